package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// signedFleet is a fleet repo worked on with real git and pushed over SSH,
// each commit signed (gpg.format=ssh) by a chosen key or unsigned.
type signedFleet struct {
	*testFleet
	srv *testenv.GitServer
	url string
}

func newSignedFleet(t *testing.T, srv *testenv.GitServer, site string) *signedFleet {
	t.Helper()
	f := &signedFleet{testFleet: newTestFleet(t, site), srv: srv}
	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		t.Fatal(err)
	}
	f.url = srv.URL("fleet.git")
	testenv.Git(t, f.dir, "init", "--quiet", "--initial-branch=main")
	return f
}

// commitAndPush commits everything, signed with the private key file key
// ("" for unsigned), pushes it and returns the commit.
func (f *signedFleet) commitAndPush(key, msg string) string {
	f.t.Helper()
	testenv.Git(f.t, f.dir, "add", "-A")
	args := []string{"-c", "gpg.format=ssh", "commit", "--quiet", "--allow-empty", "-m", msg}
	if key != "" {
		args = append([]string{"-c", "user.signingkey=" + key}, args...)
		args = append(args, "-S")
	} else {
		args = append(args, "--no-gpg-sign")
	}
	testenv.Git(f.t, f.dir, args...)
	env := []string{"GIT_SSH_COMMAND=" + f.srv.GitSSHCommand(f.srv.DeployKey.PrivatePath)}
	if _, err := testenv.RunGit(f.dir, env, "push", "--quiet", f.url, "main"); err != nil {
		f.t.Fatalf("push: %v", err)
	}
	return testenv.Git(f.t, f.dir, "rev-parse", "HEAD")
}

// TestVerifyCommitsOverSSH: a site with --verify-commits applies a head
// signed by an allowed key, stays at it when the head is signed by an
// unknown key or unsigned (sync, diff and status say so, from the last
// verified revision kept in the cluster across runs), and moves on when an
// allowed key signs again.
func TestVerifyCommitsOverSSH(t *testing.T) {
	srv := testenv.NewGitServer(t)
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const site = "vc-site"
	keys := t.TempDir()
	release, err := testenv.WriteKeyPair(filepath.Join(keys, "release"), "release@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := testenv.WriteKeyPair(filepath.Join(keys, "intruder"), "intruder@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(keys, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("release@example.test "+release.AuthorizedKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	f := newSignedFleet(t, srv, site)
	f.addProduct("alpha", "vc-alpha", "1.0.0", "info", nil)
	good := f.commitAndPush(release.PrivatePath, "alpha 1.0.0")

	git := []string{"--site", site, "--repo", f.url, "--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts,
		"--cache-dir", t.TempDir(), "--kubeconfig", c.Kubeconfig, "--verify-commits", allowed}
	sync := append([]string{"sync", "--once", "--health-timeout", "20s", "--publish-status=false"}, git...)
	level := func(t *testing.T) string {
		t.Helper()
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "vc-alpha", Name: "alpha-config"}, &cm); err != nil {
			t.Fatalf("alpha-config: %v", err)
		}
		return cm.Data["level"]
	}
	commits := func(t *testing.T) *status.Commits {
		t.Helper()
		st, err := status.NewStore(c.Client, "syncd-system", site).Load(ctx)
		if err != nil || st == nil || st.Commits == nil {
			t.Fatalf("site status: %+v %v", st, err)
		}
		return st.Commits
	}

	if res := runSyncd(t, sync...); res.code != 0 || !strings.Contains(res.stderr, "verified, signed by release@example.test") {
		t.Fatalf("sync of a signed head:\n%s", res)
	}
	if got := level(t); got != "info" {
		t.Fatalf("level = %q, want info", got)
	}
	if cm := commits(t); cm.Verified != good || cm.Held() {
		t.Fatalf("commits = %+v, want %s verified", cm, good)
	}

	for _, step := range []struct {
		name, key, level, reason string
	}{
		{"signed by an unknown key", intruder.PrivatePath, "warn", "not an allowed signer"},
		{"unsigned after a signed one", "", "debug", "is not signed"},
	} {
		f.write("products/alpha/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: alpha-config}\ndata: {level: "+step.level+"}\n")
		head := f.commitAndPush(step.key, step.name)
		res := runSyncd(t, sync...)
		if res.code != 0 || !strings.Contains(res.stderr, "not applied: commit "+head) || !strings.Contains(res.stderr, step.reason) ||
			!strings.Contains(res.stderr, "staying at the last verified revision "+good[:12]) {
			t.Fatalf("%s: sync:\n%s", step.name, res)
		}
		if got := level(t); got != "info" {
			t.Fatalf("%s: level = %q, want info (the unverified head was applied)", step.name, got)
		}
		if cm := commits(t); cm.Verified != good || cm.Head != head || !strings.Contains(cm.Refused, step.reason) {
			t.Fatalf("%s: commits = %+v", step.name, cm)
		}
		// diff compares the revision the site would apply: nothing differs.
		if res := runSyncd(t, append([]string{"diff"}, git...)...); res.code != 0 || !strings.Contains(res.stderr, "not applied") {
			t.Fatalf("%s: diff:\n%s", step.name, res)
		}
		// Without verification the same head would change the site.
		if res := runSyncd(t, append([]string{"diff"}, git[:len(git)-2]...)...); res.code != ExitDiff {
			t.Fatalf("%s: diff without --verify-commits:\n%s", step.name, res)
		}
		if res := runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig); res.code != 0 ||
			!strings.Contains(res.stdout, "commit verification: head "+head[:12]+" not applied") {
			t.Fatalf("%s: status:\n%s", step.name, res)
		}
	}

	f.write("products/alpha/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: alpha-config}\ndata: {level: error}\n")
	next := f.commitAndPush(release.PrivatePath, "signed again")
	if res := runSyncd(t, sync...); res.code != 0 {
		t.Fatalf("sync of a signed head:\n%s", res)
	}
	if got := level(t); got != "error" {
		t.Fatalf("level = %q, want error", got)
	}
	if cm := commits(t); cm.Verified != next || cm.Held() {
		t.Fatalf("commits = %+v, want %s verified", cm, next)
	}

	// The promoter signs its bump with --signing-key, a key the site
	// allows: the site applies it.
	promoter, err := testenv.WriteKeyPair(filepath.Join(keys, "promoter"), "promoter@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(allowed, []byte("release@example.test "+release.AuthorizedKey+"\npromoter@example.test "+promoter.AuthorizedKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.write("fleet.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: test}
spec:
  channels: [dev, prod]
  pipelines:
    - product: "*"
      stages: [{from: dev, to: prod, timed: {duration: 1m}}]
`)
	f.addRelease("alpha", "vc-alpha", "2.0.0", "promoted", nil)
	f.write("channels/alpha.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: alpha}\nspec: {dev: 2.0.0, prod: 1.0.0}\n")
	t.Setenv("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z") // on dev long enough
	f.commitAndPush(release.PrivatePath, "alpha 2.0.0 on dev")
	promote := []string{"promote", "--once", "--repo", f.url, "--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts,
		"--cache-dir", t.TempDir(), "--signing-key", promoter.PrivatePath}
	if res := runSyncd(t, promote...); res.code != 0 || !strings.Contains(res.stdout, "promote") {
		t.Fatalf("promote:\n%s", res)
	}
	bump := testenv.Git(t, srv.RepoPath("fleet.git"), "rev-parse", "main")
	if res := runSyncd(t, sync...); res.code != 0 || !strings.Contains(res.stderr, "verified, signed by promoter@example.test") {
		t.Fatalf("sync of the promoter's bump:\n%s", res)
	}
	if got := level(t); got != "promoted" {
		t.Fatalf("level = %q after the promoter's signed bump, want promoted", got)
	}
	if cm := commits(t); cm.Verified != bump {
		t.Fatalf("commits = %+v, want the bump %s verified", cm, bump)
	}
}
