package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// airgapFleet is a fleet repo (a Git checkout served as file://) whose site
// is on channel dev with product alpha, a dev -> prod canary pipeline, and
// the site's report key declared in sites/<site>/site.pub.
type airgapFleet struct {
	*testFleet
	site    string
	siteKey *testenv.KeyPair
}

func newAirgapFleet(t *testing.T, site string) *airgapFleet {
	t.Helper()
	f := &airgapFleet{testFleet: newTestFleet(t, site), site: site}
	keys := t.TempDir()
	var err error
	if f.siteKey, err = testenv.WriteKeyPair(filepath.Join(keys, site), site, ""); err != nil {
		t.Fatal(err)
	}
	f.write("fleet.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: test}
spec:
  channels: [dev, prod]
  pipelines:
    - product: "*"
      stages: [{from: dev, to: prod, canary: {promoteWhenHealthy: {sites: 1, soak: 1h}}}]
`)
	f.write("sites/"+site+"/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: "+site+", labels: {class: prod}}\nspec: {channel: dev}\n")
	f.write("sites/"+site+"/site.pub", f.siteKey.AuthorizedKey+"\n")
	f.addProduct("alpha", "ag-alpha", "1.0.0", "info", nil)
	f.write("channels/alpha.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: alpha}\nspec: {dev: 1.0.0}\n")
	testenv.Git(t, f.dir, "init", "--quiet", "--initial-branch=main")
	f.commit("alpha 1.0.0")
	return f
}

func (f *airgapFleet) commit(msg string) string {
	f.t.Helper()
	testenv.Git(f.t, f.dir, "add", "-A")
	testenv.Git(f.t, f.dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	return strings.TrimSpace(testenv.Git(f.t, f.dir, "rev-parse", "HEAD"))
}

func (f *airgapFleet) url() string { return "file://" + f.dir }

// TestBundleStatusExportImport: an airgapped site's report, exported signed
// from its cluster and imported on the connected side, is read by `fleet
// status` and the promoter as if the site had pushed it; a report signed by
// another key, a tampered file and an older report are refused and publish
// nothing.
func TestBundleStatusExportImport(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "ag-status"
	f := newAirgapFleet(t, site)
	res := runSyncd(t, "sync", "--once", "--site", site, "--repo", f.url(), "--cache-dir", t.TempDir(),
		"--kubeconfig", c.Kubeconfig, "--health-timeout", "20s", "--publish-status=false")
	if res.code != ExitOK {
		t.Fatalf("sync: %v", res)
	}
	dir := t.TempDir()
	export := func(name, key string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		res := runSyncd(t, "bundle", "status-export", "--site", site, "--kubeconfig", c.Kubeconfig, "--out", out, "--signing-key", key)
		if res.code != ExitOK || !strings.Contains(res.stderr, "signed, written to "+out) {
			t.Fatalf("status-export: %v", res)
		}
		return out
	}
	good := export("good.bundle", f.siteKey.PrivatePath)
	if out, err := testenv.RunGit(f.dir, nil, "bundle", "verify", good); err != nil {
		t.Fatalf("git bundle verify: %v\n%s", err, out)
	}
	other, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "other"), "other", "")
	if err != nil {
		t.Fatal(err)
	}
	forged := export("forged.bundle", other.PrivatePath)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.bundle")
	if err := os.WriteFile(tampered, data[:len(data)-30], 0o644); err != nil {
		t.Fatal(err)
	}

	importArgs := func(file string) []string {
		return []string{"bundle", "status-import", file, "--repo", f.url(), "--cache-dir", t.TempDir()}
	}
	branchExists := func() bool {
		_, err := testenv.RunGit(f.dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/syncd/status/"+site)
		return err == nil
	}
	for _, tc := range []struct{ name, file, want string }{
		{"signed by another key", forged, "not signed by the key in sites/" + site + "/site.pub"},
		{"tampered", tampered, "git bundle"},
		{"missing", filepath.Join(dir, "absent"), "no such file"},
	} {
		res := runSyncd(t, importArgs(tc.file)...)
		if res.code != ExitError || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%s: %v", tc.name, res)
		}
		if branchExists() {
			t.Fatalf("%s: the status branch was published", tc.name)
		}
	}

	res = runSyncd(t, importArgs(good)...)
	if res.code != ExitOK || !strings.Contains(res.stderr, "signed by the key of sites/"+site+"/site.pub, published to branch syncd/status/"+site) {
		t.Fatalf("status-import: %v", res)
	}
	if res := runSyncd(t, importArgs(good)...); res.code != ExitOK || !strings.Contains(res.stderr, "already published") {
		t.Fatalf("status-import again: %v", res)
	}
	fs := runSyncd(t, "fleet", "status", "--repo", f.url(), "--cache-dir", t.TempDir())
	if fs.code != ExitOK || strings.Contains(fs.stderr, site) {
		t.Fatalf("fleet status: %v", fs)
	}
	var row string
	for _, line := range strings.Split(fs.stdout, "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[0] == "alpha" && fields[2] == site {
			row = strings.Join(fields[3:], " ")
		}
	}
	if !strings.HasPrefix(row, "1.0.0 HEALTHY") {
		t.Fatalf("fleet status row of %s = %q:\n%s", site, row, fs.stdout)
	}
	pr := runSyncd(t, "promote", "--once", "--dry-run", "-o", "json", "--repo", f.url(), "--cache-dir", t.TempDir())
	if pr.code != ExitOK || !strings.Contains(pr.stdout, `"site": "`+site+`"`) || strings.Contains(pr.stderr, site) {
		t.Fatalf("the promoter does not count the imported report:\n%v", pr)
	}

}
