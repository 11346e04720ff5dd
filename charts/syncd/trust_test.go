package syncd_test

import (
	"reflect"
	"testing"

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
