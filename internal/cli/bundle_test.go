package cli

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/verify/verifytest"
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

// TestBundleCreateImportSyncOffline: the connected side writes a full
// bundle, then one --since its head; the airgapped site imports each and
// `sync --once --offline`, with a --repo it cannot reach, applies the
// revision each brought. Bundles that are unsigned by a trusted key, for
// another site, building on a commit the site lacks, or older than what the
// site has, are refused and change nothing.
func TestBundleCreateImportSyncOffline(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "ag-sync"
	f := newAirgapFleet(t, site)
	f.write("sites/ag-other/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: ag-other, labels: {class: prod}}\nspec: {channel: dev}\n")
	first := f.commit("another site")
	keys := t.TempDir()
	release, err := testenv.WriteKeyPair(filepath.Join(keys, "release"), "release", "")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := testenv.WriteKeyPair(filepath.Join(keys, "stranger"), "stranger", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	connectedCache := t.TempDir()
	create := func(name, forSite, key string, extra ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		args := append([]string{"bundle", "create", "--site", forSite, "--repo", f.url(), "--cache-dir", connectedCache,
			"--out", out, "--signing-key", key}, extra...)
		if res := runSyncd(t, args...); res.code != ExitOK || !strings.Contains(res.stderr, "writing git bundle: ") {
			t.Fatalf("bundle create: %v", res)
		}
		return out
	}
	const siteRepo = "file:///airgap/unreachable/fleet.git"
	siteCache := t.TempDir()
	importBundle := func(file string) syncdResult {
		t.Helper()
		return runSyncd(t, "bundle", "import", file, "--site", site, "--repo", siteRepo, "--cache-dir", siteCache, "--trusted-key", release.PublicPath)
	}
	syncOffline := func() syncdResult {
		t.Helper()
		return runSyncd(t, "sync", "--once", "--offline", "--site", site, "--repo", siteRepo, "--cache-dir", siteCache,
			"--kubeconfig", c.Kubeconfig, "--health-timeout", "20s")
	}
	level := func() string {
		t.Helper()
		var cm corev1.ConfigMap
		if err := c.Client.Get(t.Context(), client.ObjectKey{Namespace: "ag-alpha", Name: "alpha-config"}, &cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data["level"]
	}

	if res := syncOffline(); res.code != ExitError || !strings.Contains(res.stderr, "bundle import") {
		t.Fatalf("offline sync before any import: %v", res)
	}
	full := create("full.bundle", site, release.PrivatePath)
	for _, tc := range []struct{ name, file, want string }{
		{"untrusted", create("stranger.bundle", site, stranger.PrivatePath), "not among the 1 trusted key(s)"},
		{"other site", create("other.bundle", "ag-other", release.PrivatePath), "the bundle is for site ag-other, not " + site},
	} {
		if res := importBundle(tc.file); res.code != ExitError || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("import %s: %v", tc.name, res)
		}
	}
	if res := syncOffline(); res.code != ExitError {
		t.Fatalf("refused bundles fed the cache: %v", res)
	}
	if res := importBundle(full); res.code != ExitOK || !strings.Contains(res.stderr, "imported: fleet repo branch main at "+first[:12]) {
		t.Fatalf("import: %v", res)
	}
	res := syncOffline()
	if res.code != ExitOK || !strings.Contains(res.stderr, "offline: reading "+siteRepo) || !strings.Contains(res.stderr, "status report not published") {
		t.Fatalf("offline sync: %v", res)
	}
	if got := level(); got != "info" {
		t.Fatalf("level %q after the first import, want info", got)
	}

	// The next bundle carries only what the site lacks.
	f.addRelease("alpha", "ag-alpha", "1.1.0", "debug", nil)
	f.write("channels/alpha.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: alpha}\nspec: {dev: 1.1.0}\n")
	second := f.commit("alpha 1.1.0")
	incr := create("incr.bundle", site, release.PrivatePath, "--since", first)
	otherCache := t.TempDir()
	if res := runSyncd(t, "bundle", "import", incr, "--site", site, "--repo", siteRepo, "--cache-dir", otherCache, "--trusted-key", release.PublicPath); res.code != ExitError || !strings.Contains(res.stderr, "lacks") {
		t.Fatalf("an incremental bundle into an empty cache: %v", res)
	}
	if res := importBundle(incr); res.code != ExitOK || !strings.Contains(res.stderr, second[:12]) {
		t.Fatalf("incremental import: %v", res)
	}
	if res := syncOffline(); res.code != ExitOK || parseSummary(t, res.stdout)["alpha"].version != "1.1.0" {
		t.Fatalf("offline sync of the incremental bundle: %v", res)
	}
	if got := level(); got != "debug" {
		t.Fatalf("level %q after the incremental import, want debug", got)
	}
	// The full bundle is older than what the site has now.
	if res := importBundle(full); res.code != ExitError || !strings.Contains(res.stderr, "does not descend from") {
		t.Fatalf("re-importing the older bundle: %v", res)
	}
	if res := importBundle(incr); res.code != ExitOK || !strings.Contains(res.stderr, "nothing to import") {
		t.Fatalf("re-importing the same bundle: %v", res)
	}
}

// TestBundleCarriesSignedImages: the images of the site's products travel
// with their cosign signatures; after the source registry is gone and the
// site's registry answers at its address, the import loads them there and an
// offline sync verifies the product's signature policy and applies it.
func TestBundleCarriesSignedImages(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "ag-images"
	source := verifytest.NewRegistry(t)
	key := verifytest.NewKey(t)
	signed := source.Push("acme/app", "1.0")
	source.Sign(key, source.Push("acme/tool", "2.0")) // signed, another repository
	source.Sign(key, signed)
	f := newAirgapFleet(t, site)
	f.write("keys/cosign.pub", string(key.PublicPEM))
	cron := func(image string) string {
		return "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: job}\nspec:\n  schedule: \"0 0 1 1 *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: app, image: \"" + image + "\"}]\n"
	}
	f.addProduct("web", "ag-web", "1.0.0", "info", map[string]string{"cron.yaml": cron(source.Host + "/acme/app:1.0")})
	f.write("products/web/product.yaml", productYAML("web", "ag-web", "  signing: {keys: [cosign]}"))
	f.write("channels/web.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {dev: 1.0.0}\n")
	f.commit("web 1.0.0")
	release, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "release"), "release", "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "site.bundle")
	res := runSyncd(t, "bundle", "create", "--site", site, "--repo", f.url(), "--cache-dir", t.TempDir(), "--out", out, "--signing-key", release.PrivatePath)
	if res.code != ExitOK || !strings.Contains(res.stderr, "copying image "+source.Host+"/acme/app:1.0 (1/1)") || !strings.Contains(res.stderr, "1 image(s)") {
		t.Fatalf("bundle create: %v", res)
	}

	// The site's registry answers where the source registry was.
	addr := source.Host
	source.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	siteRegistry := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	siteRegistry.Listener = ln
	siteRegistry.Start()
	t.Cleanup(siteRegistry.Close)

	const siteRepo = "file:///airgap/unreachable/fleet.git"
	siteCache := t.TempDir()
	sync := []string{"sync", "--once", "--offline", "--site", site, "--repo", siteRepo, "--cache-dir", siteCache,
		"--kubeconfig", c.Kubeconfig, "--health-timeout", "20s"}
	importArgs := []string{"bundle", "import", out, "--site", site, "--repo", siteRepo, "--cache-dir", siteCache, "--trusted-key", release.PublicPath}
	if res := runSyncd(t, importArgs...); res.code != ExitError || !strings.Contains(res.stderr, "--registry HOST") {
		t.Fatalf("import without --registry: %v", res)
	}
	res = runSyncd(t, append(importArgs, "--registry", addr)...)
	if res.code != ExitOK || !strings.Contains(res.stderr, "loading image "+addr+"/acme/app:1.0 (1/2)") ||
		!strings.Contains(res.stderr, "loading image "+addr+"/acme/app:"+strings.Replace(signed.DigestStr(), ":", "-", 1)+".sig (2/2)") {
		t.Fatalf("bundle import: %v", res)
	}
	res = runSyncd(t, sync...)
	if res.code != ExitOK || parseSummary(t, res.stdout)["web"].health != "HEALTHY" {
		t.Fatalf("offline sync with the imported images: %v", res)
	}
	var cj batchv1.CronJob
	if err := c.Client.Get(t.Context(), client.ObjectKey{Namespace: "ag-web", Name: "job"}, &cj); err != nil {
		t.Fatal(err)
	}
	if got, want := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image, addr+"/acme/app:1.0@"+signed.DigestStr(); got != want {
		t.Fatalf("applied image %s, want %s (the verified digest)", got, want)
	}
}

func TestBundleArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"offline promoter", []string{"run", "--offline", "--promote", "--site", "s", "--repo", "file:///x"}, "--promote needs the fleet repo's server"},
		{"create without key", []string{"bundle", "create", "--site", "s", "--repo", "file:///x", "--out", filepath.Join(dir, "b")}, "--signing-key is required"},
		{"create without out", []string{"bundle", "create", "--site", "s", "--repo", "file:///x"}, "--out FILE is required"},
		{"import without trusted key", []string{"bundle", "import", filepath.Join(dir, "b"), "--site", "s", "--repo", "file:///x"}, "--trusted-key is required"},
		{"import of no bundle", []string{"bundle", "import", "/dev/null", "--site", "s", "--repo", "file:///x", "--trusted-key", "/dev/null"}, "no public key"},
		{"status-export without out", []string{"bundle", "status-export", "--site", "s"}, "--out FILE is required"},
		{"status-import without repo", []string{"bundle", "status-import", "f"}, "--repo (or SYNCD_REPO) is required"},
		{"unknown subcommand", []string{"bundle", "push"}, `unknown command "push"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, tc.args...)
			if res.code != ExitError || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("%v, want exit 2 and %q", res, tc.want)
			}
		})
	}
}

// TestBundleRunOffline: `syncd run --offline` applies the revision imported
// before it started, and a revision imported while it runs at its next poll.
func TestBundleRunOffline(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "ag-run"
	f := newAirgapFleet(t, site)
	first := strings.TrimSpace(testenv.Git(t, f.dir, "rev-parse", "HEAD"))
	release, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "release"), "release", "")
	if err != nil {
		t.Fatal(err)
	}
	dir, connectedCache, siteCache := t.TempDir(), t.TempDir(), t.TempDir()
	const siteRepo = "file:///airgap/unreachable/fleet.git"
	carry := func(name string, extra ...string) {
		t.Helper()
		out := filepath.Join(dir, name)
		if res := runSyncd(t, append([]string{"bundle", "create", "--site", site, "--repo", f.url(), "--cache-dir", connectedCache,
			"--out", out, "--signing-key", release.PrivatePath}, extra...)...); res.code != ExitOK {
			t.Fatalf("bundle create: %v", res)
		}
		if res := runSyncd(t, "bundle", "import", out, "--site", site, "--repo", siteRepo, "--cache-dir", siteCache,
			"--trusted-key", release.PublicPath); res.code != ExitOK {
			t.Fatalf("bundle import: %v", res)
		}
	}
	level := func() string {
		var cm corev1.ConfigMap
		if err := c.Client.Get(t.Context(), client.ObjectKey{Namespace: "ag-alpha", Name: "alpha-config"}, &cm); err != nil {
			return ""
		}
		return cm.Data["level"]
	}
	waitLevel := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for level() != want {
			if time.Now().After(deadline) {
				t.Fatalf("level %q, want %q", level(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	carry("full.bundle")
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Execute(ctx, []string{"run", "--offline", "--site", site, "--repo", siteRepo, "--cache-dir", siteCache,
			"--kubeconfig", c.Kubeconfig, "--listen", freeAddr(t), "--interval", "200ms", "--health-timeout", "0s"},
			strings.NewReader(""), io.Discard, &logs)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	waitLevel("info")
	f.addRelease("alpha", "ag-alpha", "1.1.0", "debug", nil)
	f.write("channels/alpha.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: alpha}\nspec: {dev: 1.1.0}\n")
	f.commit("alpha 1.1.0")
	carry("incr.bundle", "--since", first)
	waitLevel("debug")
	stop()
	if !strings.Contains(logs.String(), "offline: status reports are not published") {
		t.Fatalf("the daemon's log does not say reports are not published:\n%s", logs.String())
	}
}
