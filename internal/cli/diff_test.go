package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// unreachableKubeconfig writes a kubeconfig whose server refuses connections.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const cfg = `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody}
current-context: nowhere
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.diff.syncd.dev}
spec:
  group: diff.syncd.dev
  scope: Namespaced
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// secretYAML is a Secret whose data holds the given plaintext values.
func secretYAML(name string, data map[string]string) string {
	s := "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\ntype: Opaque\ndata:\n"
	for _, k := range []string{"password", "token", "username"} {
		if v, ok := data[k]; ok {
			s += "  " + k + ": " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n"
		}
	}
	return s
}

// tokenSecret is a Secret with one key and an annotation next to the one a
// client-side `kubectl apply` adds.
func tokenSecret(token, rotation string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: alpha-token\n  annotations: {rotation: \"" + rotation + "\"}\ntype: Opaque\ndata:\n" +
		"  token: " + base64.StdEncoding.EncodeToString([]byte(token)) + "\n"
}

// diffLines returns the "<product> <object>: <action>" lines of diff output.
func diffLines(stdout string) []string {
	var lines []string
	for _, l := range strings.Split(stdout, "\n") {
		if l != "" && !strings.HasPrefix(l, "    ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] == 0 {
			return false
		}
		seen[w]--
	}
	return true
}

func TestDiffAgainstCluster(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const site = "diff-site"
	const (
		gitPassword  = "git-pass-4f1c9e"
		livePassword = "live-pass-9b2e71"
		username     = "svc-user-77aa03"
		gitToken     = "git-token-c0ffee11"
		liveToken    = "live-token-deadbe22"
	)
	f := newTestFleet(t, site)
	f.addProduct("alpha", "dt-alpha", "1.0.0", "info", map[string]string{
		"secret.yaml": secretYAML("alpha-credentials", map[string]string{"password": gitPassword, "username": username}),
		"token.yaml":  tokenSecret(gitToken, "1"),
	})
	f.addProduct("beta", "dt-beta", "1.0.0", "info", nil)
	// gamma brings a CRD and an object of its kind.
	f.addProduct("gamma", "dt-gamma", "1.0.0", "info", map[string]string{
		"crd.yaml":    gadgetCRD,
		"gadget.yaml": "apiVersion: diff.syncd.dev/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {size: 3}\n",
	})
	diffArgs := []string{"diff", "--site", site, "--repo-dir", f.dir, "--kubeconfig", c.Kubeconfig}
	syncArgs := []string{"sync", "--once", "--site", site, "--repo-dir", f.dir, "--kubeconfig", c.Kubeconfig, "--health-timeout", "20s"}

	mustSync := func(t *testing.T) {
		t.Helper()
		if res := runSyncd(t, syncArgs...); res.code != ExitOK {
			t.Fatalf("sync --once: %v", res)
		}
	}
	wantNoDiff := func(t *testing.T) {
		t.Helper()
		res := runSyncd(t, diffArgs...)
		if res.code != ExitOK || res.stdout != "" {
			t.Fatalf("diff after sync: %v\nwant exit 0 and nothing on stdout", res)
		}
		if !strings.Contains(res.stderr, "0 object(s) differ, 10 unchanged") {
			t.Fatalf("diff after sync: stderr %q, want the counts", res.stderr)
		}
	}

	// A failure here does not stop the steps below, which start with a sync.
	t.Run("empty cluster: everything created", func(t *testing.T) {
		res := runSyncd(t, diffArgs...)
		if res.code != ExitDiff {
			t.Fatalf("exit %d, want %d: %v", res.code, ExitDiff, res)
		}
		want := []string{
			"alpha Namespace/dt-alpha: created",
			"alpha ConfigMap/dt-alpha/alpha-config: created",
			"alpha Secret/dt-alpha/alpha-credentials: created",
			"alpha Secret/dt-alpha/alpha-token: created",
			"beta Namespace/dt-beta: created",
			"beta ConfigMap/dt-beta/beta-config: created",
			"gamma Namespace/dt-gamma: created",
			"gamma ConfigMap/dt-gamma/gamma-config: created",
			"gamma CustomResourceDefinition/gadgets.diff.syncd.dev: created",
			"gamma Gadget/dt-gamma/g1: created",
		}
		if got := diffLines(res.stdout); !sameSet(got, want) {
			t.Fatalf("diff lines = %q, want %q", got, want)
		}
		if strings.Contains(res.stdout, "    ") {
			t.Errorf("created objects should have no field diff:\n%s", res.stdout)
		}
		if !strings.Contains(res.stderr, "10 object(s) differ, 0 unchanged") {
			t.Errorf("stderr %q lacks the counts", res.stderr)
		}
		if strings.Contains(res.stderr, "error") {
			t.Errorf("stderr reports an error for a diff: %q", res.stderr)
		}
		// diff is a dry run: nothing was created.
		err := c.Client.Get(ctx, client.ObjectKey{Name: "dt-alpha"}, &corev1.Namespace{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("namespace dt-alpha after diff: %v, want not found", err)
		}
	})

	if !t.Run("after sync: no diff", func(t *testing.T) {
		mustSync(t)
		wantNoDiff(t)
	}) {
		return
	}

	if !t.Run("ConfigMap edited live: configured with a unified diff", func(t *testing.T) {
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "dt-alpha", Name: "alpha-config"}, &cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["level"] = "debug"
		if err := c.Client.Update(ctx, &cm, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
		res := runSyncd(t, diffArgs...)
		if res.code != ExitDiff {
			t.Fatalf("exit %d, want %d: %v", res.code, ExitDiff, res)
		}
		if !strings.Contains(res.stdout, "-  level: debug\n") || !strings.Contains(res.stdout, "+  level: info\n") {
			t.Fatalf("diff lacks the live and git values:\n%s", res.stdout)
		}
		if !strings.Contains(res.stderr, "1 object(s) differ, 9 unchanged") {
			t.Errorf("stderr %q lacks the counts", res.stderr)
		}
		checkGolden(t, "diff-configured.txt", res.stdout)

		// A sync takes the field back (git_wins); then nothing differs.
		mustSync(t)
		wantNoDiff(t)
	}) {
		return
	}

	for _, tc := range []struct {
		name, secret, key, gitValue, liveValue string
		// lastApplied also records the live value the way a client-side
		// `kubectl apply` does, in an annotation.
		lastApplied bool
	}{
		{name: "kubectl edit", secret: "alpha-credentials", key: "password", gitValue: gitPassword, liveValue: livePassword},
		{name: "client-side kubectl apply", secret: "alpha-token", key: "token", gitValue: gitToken, liveValue: liveToken, lastApplied: true},
	} {
		if !t.Run("Secret changed live by "+tc.name+": configured, values masked", func(t *testing.T) {
			var s corev1.Secret
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "dt-alpha", Name: tc.secret}, &s); err != nil {
				t.Fatal(err)
			}
			if string(s.Data[tc.key]) != tc.gitValue {
				t.Fatalf("live %s before the edit = %q, want the git value", tc.key, s.Data[tc.key])
			}
			s.Data[tc.key] = []byte(tc.liveValue)
			if tc.lastApplied {
				applied, err := json.Marshal(map[string]any{
					"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
					"metadata": map[string]any{"name": tc.secret, "namespace": "dt-alpha"},
					"data":     map[string]any{tc.key: base64.StdEncoding.EncodeToString([]byte(tc.liveValue))},
				})
				if err != nil {
					t.Fatal(err)
				}
				if s.Annotations == nil {
					s.Annotations = map[string]string{}
				}
				s.Annotations[corev1.LastAppliedConfigAnnotation] = string(applied)
				// Git changes the annotation beside kubectl's, which puts
				// kubectl's in the context of the diff.
				f.write("products/alpha/releases/1.0.0/token.yaml", tokenSecret(gitToken, "2"))
			}
			if err := c.Client.Update(ctx, &s, client.FieldOwner("kubectl-edit")); err != nil {
				t.Fatal(err)
			}
			res := runSyncd(t, diffArgs...)
			if res.code != ExitDiff {
				t.Fatalf("exit %d, want %d: %v", res.code, ExitDiff, res)
			}
			if got, want := diffLines(res.stdout), []string{"alpha Secret/dt-alpha/" + tc.secret + ": configured"}; !sameSet(got, want) {
				t.Fatalf("diff lines = %q, want %q", got, want)
			}
			if !strings.Contains(res.stdout, "-  "+tc.key+": '***") || !strings.Contains(res.stdout, "+  "+tc.key+": '***") {
				t.Errorf("Secret diff does not show %s changed and masked:\n%s", tc.key, res.stdout)
			}
			all := res.stdout + res.stderr
			for _, secret := range []string{gitPassword, livePassword, username, gitToken, liveToken} {
				for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
					if strings.Contains(all, form) {
						t.Errorf("diff output reveals %q:\n%s", form, all)
					}
				}
			}
			mustSync(t)
			wantNoDiff(t)
		}) {
			return
		}
	}

	if !t.Run("product removed from the fleet: deleted (would prune)", func(t *testing.T) {
		f.remove("products/beta")
		f.remove("channels/beta.yaml")
		res := runSyncd(t, diffArgs...)
		if res.code != ExitDiff {
			t.Fatalf("exit %d, want %d: %v", res.code, ExitDiff, res)
		}
		want := []string{
			"beta ConfigMap/dt-beta/beta-config: deleted (would prune)",
			"beta Namespace/dt-beta: deleted (would prune)",
		}
		if got := diffLines(res.stdout); !sameSet(got, want) {
			t.Fatalf("diff lines = %q, want %q", got, want)
		}
		if !strings.Contains(res.stderr, "2 object(s) differ, 8 unchanged") {
			t.Errorf("stderr %q lacks the counts", res.stderr)
		}
		// Only a sync prunes.
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "dt-beta", Name: "beta-config"}, &corev1.ConfigMap{}); err != nil {
			t.Fatalf("beta-config after diff: %v, want it still live", err)
		}
	}) {
		return
	}

	t.Run("broken product: exit 2, the others still diffed", func(t *testing.T) {
		f.write("products/alpha/releases/1.0.0/cm.yaml", "kind: [unclosed\n")
		res := runSyncd(t, diffArgs...)
		if res.code != ExitError {
			t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
		}
		if !strings.Contains(res.stderr, "alpha") || !strings.Contains(res.stderr, "products/alpha/releases/1.0.0") {
			t.Errorf("stderr does not name the broken product and its release:\n%s", res.stderr)
		}
		// beta (removed) is still reported; nothing of alpha is listed as
		// deleted: a product that failed to render is never pruned.
		if !strings.Contains(res.stdout, "beta ConfigMap/dt-beta/beta-config: deleted (would prune)") {
			t.Errorf("stdout lacks the other product's changes:\n%s", res.stdout)
		}
		if strings.Contains(res.stdout, "alpha") {
			t.Errorf("stdout lists objects of the broken product:\n%s", res.stdout)
		}
	})
}

func TestDiffUsageAndConnectionErrors(t *testing.T) {
	f := newTestFleet(t, "diff-errors")
	f.addProduct("alpha", "de-alpha", "1.0.0", "info", nil)
	unreachable := unreachableKubeconfig(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing site", []string{"diff", "--repo-dir", f.dir, "--kubeconfig", unreachable}, "--site"},
		{"unreachable cluster", []string{"diff", "--site", "diff-errors", "--repo-dir", f.dir, "--kubeconfig", unreachable}, "127.0.0.1:1"},
		{"missing kubeconfig file", []string{"diff", "--site", "diff-errors", "--repo-dir", f.dir, "--kubeconfig", filepath.Join(t.TempDir(), "absent")}, "kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := runSyncd(t, tc.args...)
			if res.code != ExitError {
				t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", res.stderr, tc.want)
			}
			if strings.Contains(res.stderr, "object(s) differ") || res.stdout != "" {
				t.Errorf("a diff that compared nothing reports results: %v", res)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("diff took %s to fail", d)
			}
		})
	}
}
