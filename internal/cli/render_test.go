package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// syncdResult is what one run of the command line produced.
type syncdResult struct {
	stdout, stderr string
	code           int
}

// runSyncd runs the syncd command line with args in-process.
func runSyncd(t *testing.T, args ...string) syncdResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return syncdResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

func (r syncdResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v\n(run `go test ./internal/cli -run %s -update` to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Fatalf("output differs from %s (rerun with -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// testFleet is a small fleet repo on disk that tests edit between commands.
type testFleet struct {
	t   *testing.T
	dir string
}

// newTestFleet writes fleet.yaml with channels dev and prod and a prod site.
func newTestFleet(t *testing.T, site string) *testFleet {
	t.Helper()
	f := &testFleet{t: t, dir: t.TempDir()}
	f.write("fleet.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: test}
spec:
  channels: [dev, prod]
`)
	f.write("sites/"+site+"/site.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: `+site+`, labels: {class: prod}}
spec: {channel: prod}
`)
	return f
}

func (f *testFleet) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *testFleet) remove(name string) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.dir, filepath.FromSlash(name))); err != nil {
		f.t.Fatal(err)
	}
}

// productYAML is a product.yaml targeting class=prod sites; the namespace is
// on line 6 and extra lines start at line 7.
func productYAML(name, namespace string, extra ...string) string {
	s := `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata: {name: ` + name + `}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: ` + namespace + "\n"
	for _, e := range extra {
		s += e + "\n"
	}
	return s
}

func channelsYAML(product, version string) string {
	return `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata: {name: ` + product + `}
spec: {prod: ` + version + `}
`
}

// addProduct writes product name in namespace with release version made of
// a Namespace, a ConfigMap <name>-config with data level=<level>, and the
// extra files (added to the kustomization's resources), and points the
// prod channel at it.
func (f *testFleet) addProduct(name, namespace, version, level string, extra map[string]string) {
	f.t.Helper()
	f.write("products/"+name+"/product.yaml", productYAML(name, namespace))
	f.addRelease(name, namespace, version, level, extra)
	f.write("channels/"+name+".yaml", channelsYAML(name, version))
}

func (f *testFleet) addRelease(name, namespace, version, level string, extra map[string]string) {
	f.t.Helper()
	dir := "products/" + name + "/releases/" + version + "/"
	resources := []string{"ns.yaml", "cm.yaml"}
	f.write(dir+"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+namespace+"}\n")
	f.write(dir+"cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+"-config}\ndata: {level: "+level+"}\n")
	for file, content := range extra {
		f.write(dir+file, content)
		resources = append(resources, file)
	}
	f.write(dir+"kustomization.yaml", "resources: ["+strings.Join(resources, ", ")+"]\n")
}

const exampleFleet = "../../examples/fleet-repo"

func TestRenderExampleSiteGolden(t *testing.T) {
	res := runSyncd(t, "render", "--site", "edge-store-042", "--repo-dir", exampleFleet)
	if res.code != ExitOK {
		t.Fatalf("render: %v", res)
	}
	if !strings.Contains(res.stdout, "syncd.dev/site: edge-store-042") {
		t.Fatalf("render output is not labelled with the site:\n%s", res.stdout)
	}
	checkGolden(t, "render-edge-store-042.yaml", res.stdout)
}

func TestRenderIsStableAcrossRuns(t *testing.T) {
	first := runSyncd(t, "render", "--site", "edge-store-042", "--repo-dir", exampleFleet)
	if first.code != ExitOK || first.stdout == "" {
		t.Fatalf("first render: %v", first)
	}
	for i := 0; i < 3; i++ {
		again := runSyncd(t, "render", "--site", "edge-store-042", "--repo-dir", exampleFleet)
		if again.code != ExitOK {
			t.Fatalf("render %d: %v", i+2, again)
		}
		if again.stdout != first.stdout {
			t.Fatalf("render %d differs from the first:\n--- first:\n%s\n--- again:\n%s", i+2, first.stdout, again.stdout)
		}
	}
}

func TestRenderUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"missing site", []string{"render", "--repo-dir", exampleFleet}, []string{"--site"}},
		{"unknown site", []string{"render", "--site", "no-such-site-9", "--repo-dir", exampleFleet}, []string{"no-such-site-9", "sites/no-such-site-9/site.yaml"}},
		{"missing repo dir", []string{"render", "--site", "edge-store-042", "--repo-dir", filepath.Join(t.TempDir(), "nope")}, []string{"--repo-dir"}},
		{"positional argument", []string{"render", "--site", "edge-store-042", "--repo-dir", exampleFleet, "extra"}, []string{"extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, tc.args...)
			if res.code != ExitError {
				t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr %q does not contain %q", res.stderr, w)
				}
			}
		})
	}
}

func TestRenderSiteFromEnvironment(t *testing.T) {
	t.Setenv("SYNCD_SITE", "edge-store-042")
	t.Setenv("SYNCD_REPO_DIR", exampleFleet)
	res := runSyncd(t, "render")
	if res.code != ExitOK || !strings.Contains(res.stdout, "syncd.dev/site: edge-store-042") {
		t.Fatalf("render with SYNCD_SITE and SYNCD_REPO_DIR: %v", res)
	}
	// A flag wins over the environment.
	res = runSyncd(t, "render", "--site", "no-such-site-9")
	if res.code != ExitError || !strings.Contains(res.stderr, "no-such-site-9") {
		t.Fatalf("render --site over SYNCD_SITE: %v", res)
	}
}

func TestRenderBrokenProductPrintsTheOthers(t *testing.T) {
	const site = "render-broken"
	f := newTestFleet(t, site)
	f.addProduct("good", "rb-good", "1.0.0", "info", nil)
	f.addProduct("bad", "rb-bad", "1.0.0", "info", nil)
	f.write("products/bad/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-config\ndata: [unclosed\n")

	res := runSyncd(t, "render", "--site", site, "--repo-dir", f.dir)
	if res.code != ExitError {
		t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
	}
	for _, want := range []string{"name: good-config", "namespace: rb-good", "kind: Namespace", "syncd.dev/product: good"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q of the good product:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "bad") {
		t.Errorf("stdout contains objects of the broken product:\n%s", res.stdout)
	}
	for _, want := range []string{"product bad", "products/bad/releases/1.0.0", "cm.yaml"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if strings.Contains(res.stderr, "product good") {
		t.Errorf("stderr reports the good product:\n%s", res.stderr)
	}
}

func TestRenderUnknownFieldNamesFileLineAndField(t *testing.T) {
	const site = "render-strict"
	f := newTestFleet(t, site)
	f.addProduct("good", "rs-good", "1.0.0", "info", nil)
	f.addProduct("typo", "rs-typo", "1.0.0", "info", nil)
	// Line 7 of product.yaml.
	f.write("products/typo/product.yaml", productYAML("typo", "rs-typo", "  nameSpace: rs-other"))

	res := runSyncd(t, "render", "--site", site, "--repo-dir", f.dir)
	if res.code != ExitError {
		t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
	}
	if want := "products/typo/product.yaml:7: spec.nameSpace"; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
	}
	if !strings.Contains(res.stdout, "name: good-config") || strings.Contains(res.stdout, "rs-typo") || strings.Contains(res.stdout, "rs-other") {
		t.Errorf("stdout should hold the good product only:\n%s", res.stdout)
	}
}
