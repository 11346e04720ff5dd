package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// readOnlyKey authorizes a new key on srv that may only fetch (a forced
// command that runs git-upload-pack and refuses anything else), as a read
// deploy key on a Git host.
func readOnlyKey(t *testing.T, srv *testenv.GitServer, dir string) *testenv.KeyPair {
	t.Helper()
	key, err := testenv.WriteKeyPair(filepath.Join(dir, "fleet-readonly"), "fleet-readonly", "")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "readonly.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncase \"$SSH_ORIGINAL_COMMAND\" in\n  git-upload-pack*) exec sh -c \"$SSH_ORIGINAL_COMMAND\" ;;\n  *) echo 'read-only deploy key' >&2; exit 1 ;;\nesac\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := srv.AuthorizeKey(`command="` + script + `",no-pty ` + key.AuthorizedKey); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestSignedReportsInStatusRepo: sites read the fleet repo with a read-only
// key and push signed reports to a separate status repo; a report forged by
// one site for another is ignored and named by `fleet status` and the
// promoter, a site that declares no key is read unsigned and said so, and
// ignored once fleet.yaml requires signed reports.
func TestSignedReportsInStatusRepo(t *testing.T) {
	srv := testenv.NewGitServer(t)
	ctx := context.Background()
	keys := t.TempDir()
	siteKey := func(name string) *testenv.KeyPair {
		k, err := testenv.WriteKeyPair(filepath.Join(keys, name), name, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyA, keyB := siteKey("site-a"), siteKey("site-b")
	f := newTestFleet(t, "site-a")
	for _, s := range []string{"site-b", "site-c"} {
		f.write("sites/"+s+"/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: "+s+", labels: {class: prod}}\nspec: {channel: prod}\n")
	}
	f.write("sites/site-a/site.pub", keyA.AuthorizedKey+"\n")
	f.write("sites/site-b/site.pub", "# site-b's report key\n"+keyB.AuthorizedKey+"\n")
	f.addProduct("alpha", "alpha", "1.0.0", "info", nil)
	fleetURL := testenv.SeedRepo(t, srv, "fleet.git", "main", f.dir)
	if _, err := srv.CreateRepo("status.git", "main"); err != nil {
		t.Fatal(err)
	}
	statusURL := srv.URL("status.git")
	readOnly := readOnlyKey(t, srv, keys)

	source := func(url, identity, signingKey string) *gitsource.Source {
		t.Helper()
		s, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: identity, KnownHostsFile: srv.KnownHosts,
			CacheDir: t.TempDir(), Timeout: time.Minute, SigningKey: signingKey})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The fleet key reads the fleet repo and cannot write to it.
	fleetSrc := source(fleetURL, readOnly.PrivatePath, "")
	if _, _, err := fleetSrc.Fetch(ctx); err != nil {
		t.Fatalf("fetching with the read-only key: %v", err)
	}
	if _, err := fleetSrc.Commit(ctx, gitsource.CommitRequest{Branch: status.Branch("site-a"), Force: true, Message: "x",
		Change: func(w *gitsource.WorkTree) error { return w.WriteFile("x", []byte("x")) }}); err == nil {
		t.Fatal("the read-only key pushed to the fleet repo")
	}

	publish := func(site, signingKey string, h health.State) {
		t.Helper()
		now := time.Now()
		st := &status.SiteStatus{Site: site, Revision: "abc", UpdatedAt: now, Products: []status.ProductStatus{
			{Name: "alpha", Version: "1.0.0", Health: h, Since: now, VersionSince: now}}}
		if ok, err := status.NewPublisher(source(statusURL, srv.DeployKey.PrivatePath, signingKey), site, nil).Publish(ctx, st); err != nil || !ok {
			t.Fatalf("publishing the report of %s: %v %v", site, ok, err)
		}
	}
	publish("site-a", keyA.PrivatePath, health.Healthy) // into an empty status repo
	publish("site-b", keyA.PrivatePath, health.Healthy) // forged by site-a
	publish("site-c", "", health.Error)                 // declares no key

	fleetArgs := []string{"--repo", fleetURL, "--identity", readOnly.PrivatePath, "--known-hosts", srv.KnownHosts,
		"--status-repo", statusURL, "--status-identity", srv.DeployKey.PrivatePath}
	res := runSyncd(t, append([]string{"fleet", "status", "--cache-dir", t.TempDir()}, fleetArgs...)...)
	if res.code != 0 || !strings.Contains(res.stderr, "report of site site-b skipped") ||
		!strings.Contains(res.stderr, "not signed by the key in sites/site-b/site.pub") ||
		!strings.Contains(res.stderr, "report of site site-c is unsigned") ||
		strings.Contains(res.stderr, "site site-a") {
		t.Fatalf("fleet status:\n%s", res)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "alpha" { // PRODUCT CHANNELS SITE VERSION HEALTH
			rows[f[2]] = strings.Join(f[3:], " ")
		}
	}
	if !strings.HasPrefix(rows["site-a"], "1.0.0 HEALTHY") || !strings.HasPrefix(rows["site-c"], "1.0.0 ERROR") || strings.Contains(rows["site-b"], "HEALTHY") {
		t.Fatalf("rows %v in:\n%s", rows, res.stdout)
	}
	promote := append([]string{"promote", "--once", "--dry-run", "--cache-dir", t.TempDir()}, fleetArgs...)
	if res := runSyncd(t, promote...); res.code != 0 || !strings.Contains(res.stderr, "site-b") {
		t.Fatalf("promote does not name the forged report:\n%s", res)
	}

	// spec.reports.requireSigned: the site without a key is ignored too.
	work := t.TempDir()
	env := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	if _, err := testenv.RunGit(work, env, "clone", "--quiet", fleetURL, "."); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "fleet.yaml"), []byte("apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: test}\nspec:\n  channels: [dev, prod]\n  reports: {requireSigned: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "commit", "--quiet", "-am", "require signed reports")
	if _, err := testenv.RunGit(work, env, "push", "--quiet", "origin", "main"); err != nil {
		t.Fatal(err)
	}
	res = runSyncd(t, append([]string{"fleet", "status", "--cache-dir", t.TempDir()}, fleetArgs...)...)
	if res.code != 0 || !strings.Contains(res.stderr, "report of site site-c skipped") || !strings.Contains(res.stderr, "requireSigned") ||
		!strings.Contains(res.stderr, "report of site site-b skipped") {
		t.Fatalf("fleet status with requireSigned:\n%s", res)
	}
}
