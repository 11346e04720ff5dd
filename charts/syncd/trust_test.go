package syncd_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	allowedSigners = "release@example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAllowedSignerForTheChartTest\n"
	signingKeyPEM  = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-signing-key\n-----END OPENSSH PRIVATE KEY-----\n"
	statusKeyPEM   = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-status-key\n-----END OPENSSH PRIVATE KEY-----\n"
	registryJSON   = `{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}`
)

// trustValues set every supply-chain value (SPEC §7).
func trustValues() map[string]any {
	v := with(requiredValues(), "trust", map[string]any{
		"allowedSigners": allowedSigners, "signingKey": signingKeyPEM, "registryCredentials": registryJSON,
	})
	return with(v, "statusRepo", map[string]any{"url": "ssh://git@git.example.com:2222/status.git", "identity": statusKeyPEM})
}

// TestRenderTrust: the supply-chain files land in the Secret syncd-trust,
// mounted read-only, and the flags point at them; registry credentials
// given as a file win over a registryConfig path.
func TestRenderTrust(t *testing.T) {
	vals := with(trustValues(), "registryConfig", "/elsewhere/config.json")
	r := mustRender(t, vals, "syncd-system")
	checkCommon(t, r, "syncd-system")
	_, c := r.deployment(t, "syncd-system")
	flags := parseRunArgs(t, c.Args)
	want := map[string]string{
		"verify-commits":  "/etc/syncd/trust/allowed_signers",
		"signing-key":     "/etc/syncd/trust/signing_key",
		"registry-config": "/etc/syncd/trust/registry-config.json",
		"status-repo":     "ssh://git@git.example.com:2222/status.git",
		"status-identity": "/etc/syncd/trust/status_identity",
	}
	for flag, v := range want {
		if flags[flag] != v {
			t.Errorf("--%s=%q, want %q", flag, flags[flag], v)
		}
	}
	secret := &corev1.Secret{}
	r.into(t, "Secret syncd-system/syncd-trust", secret)
	wantData := map[string][]byte{
		"allowed_signers": []byte(allowedSigners), "signing_key": []byte(signingKeyPEM),
		"registry-config.json": []byte(registryJSON), "status_identity": []byte(statusKeyPEM),
	}
	if !reflect.DeepEqual(secret.Data, wantData) {
		t.Errorf("trust Secret data %q, want %q", secret.Data, wantData)
	}

	// Without supply-chain values there is no trust Secret nor flag.
	plain := mustRender(t, requiredValues(), "syncd-system")
	_, c = plain.deployment(t, "syncd-system")
	flags = parseRunArgs(t, c.Args)
	for flag := range want {
		if _, ok := flags[flag]; ok {
			t.Errorf("default values give --%s", flag)
		}
	}
	for _, o := range plain.objects {
		if objectID(o) == "Secret syncd-system/syncd-trust" {
			t.Error("default values make a trust Secret")
		}
	}
}

// trustVolume returns the pod's volume "trust" and the container's mount of
// it; nil when there is none.
func trustVolume(dep *appsv1.Deployment, c corev1.Container) (*corev1.Volume, *corev1.VolumeMount) {
	var vol *corev1.Volume
	for i, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == "trust" {
			vol = &dep.Spec.Template.Spec.Volumes[i]
		}
	}
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.Name == "trust" {
			mount = &c.VolumeMounts[i]
		}
	}
	return vol, mount
}

// TestRenderTrustExistingSecret: with trust.existingSecret the chart makes no
// <fullname>-trust Secret, mounts the user's Secret where its own would be,
// with the same files, and passes exactly the same arguments as the inline
// values; with fewer keys listed, only their flags.
func TestRenderTrustExistingSecret(t *testing.T) {
	inline := mustRender(t, trustValues(), "syncd-system")
	inlineDep, inlineC := inline.deployment(t, "syncd-system")
	inlineVol, inlineMount := trustVolume(inlineDep, inlineC)
	if inlineVol == nil || inlineMount == nil {
		t.Fatal("inline trust values mount no trust volume")
	}
	if !inline.has("Secret syncd-system/syncd-trust") {
		t.Fatal("inline trust values make no syncd-trust Secret")
	}

	allKeys := []any{"allowed_signers", "signing_key", "registry-config.json", "status_identity"}
	existing := func(keys []any) map[string]any {
		v := with(requiredValues(), "trust", map[string]any{"existingSecret": "supply-chain", "existingSecretKeys": keys})
		return with(v, "statusRepo", map[string]any{"url": "ssh://git@git.example.com:2222/status.git"})
	}
	r := mustRender(t, existing(allKeys), "syncd-system")
	checkCommon(t, r, "syncd-system")
	for _, id := range r.ids() {
		if strings.HasPrefix(id, "Secret ") && strings.HasSuffix(id, "-trust") {
			t.Errorf("with trust.existingSecret the chart renders %s", id)
		}
	}
	dep, c := r.deployment(t, "syncd-system")
	if !slices.Equal(c.Args, inlineC.Args) {
		t.Errorf("args with trust.existingSecret:\n%q\nwant the inline values' args:\n%q", c.Args, inlineC.Args)
	}
	parseRunArgs(t, c.Args)
	vol, mount := trustVolume(dep, c)
	switch {
	case vol == nil || mount == nil:
		t.Fatal("with trust.existingSecret no trust volume is mounted")
	case vol.Secret == nil || vol.Secret.SecretName != "supply-chain":
		t.Errorf("trust volume %+v, want Secret supply-chain", vol.VolumeSource)
	case *mount != *inlineMount:
		t.Errorf("mount %+v, want the inline values' %+v", *mount, *inlineMount)
	}
	if vol != nil && vol.Secret != nil {
		got, want := *vol.Secret, *inlineVol.Secret
		got.SecretName, want.SecretName = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("trust volume %+v, want the inline values' %+v but for the name", got, want)
		}
		if len(vol.Secret.Items) != len(allKeys) || *vol.Secret.DefaultMode != 0o400 {
			t.Errorf("trust volume items %v mode %o, want the four files at 0400", vol.Secret.Items, *vol.Secret.DefaultMode)
		}
	}

	// One key listed: its flag and file only; the others stay off.
	r = mustRender(t, existing([]any{"allowed_signers"}), "syncd-system")
	dep, c = r.deployment(t, "syncd-system")
	flags := parseRunArgs(t, c.Args)
	if flags["verify-commits"] != "/etc/syncd/trust/allowed_signers" {
		t.Errorf("--verify-commits=%q with allowed_signers listed", flags["verify-commits"])
	}
	for _, off := range []string{"signing-key", "registry-config", "status-identity"} {
		if v, ok := flags[off]; ok {
			t.Errorf("--%s=%q given though its file is not listed", off, v)
		}
	}
	if vol, _ := trustVolume(dep, c); vol == nil || !reflect.DeepEqual(vol.Secret.Items, []corev1.KeyToPath{{Key: "allowed_signers", Path: "allowed_signers"}}) {
		t.Errorf("trust volume %+v, want only allowed_signers", vol)
	}
}

// TestRenderTrustExistingSecretRejects: trust.existingSecret without its
// keys, with an unknown key, or beside an inline file fails the install
// with what to do.
func TestRenderTrustExistingSecretRejects(t *testing.T) {
	ch := loadChart(t)
	base := with(requiredValues(), "trust.existingSecret", "supply-chain")
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"no keys", base, "trust.existingSecretKeys is required with trust.existingSecret"},
		{"empty keys", with(base, "trust.existingSecretKeys", []any{}), "trust.existingSecretKeys is required with trust.existingSecret"},
		{"unknown key", with(base, "trust.existingSecretKeys", []any{"allowed-signers"}), "at '/trust/existingSecretKeys/0'"},
		{"inline allowed signers", with(with(base, "trust.existingSecretKeys", []any{"signing_key"}), "trust.allowedSigners", allowedSigners),
			"trust.allowedSigners is set with trust.existingSecret: put it in Secret supply-chain as the key allowed_signers"},
		{"inline status identity", with(with(base, "trust.existingSecretKeys", []any{"signing_key"}), "statusRepo.identity", statusKeyPEM),
			"statusRepo.identity is set with trust.existingSecret: put it in Secret supply-chain as the key status_identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(ch, tc.vals, "syncd-system")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
