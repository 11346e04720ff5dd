package fleetplan

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/render"
)

const exampleFleet = "../../examples/fleet-repo"

func TestPlanExampleFleet(t *testing.T) {
	cache := render.NewCache()
	rev, err := Plan(context.Background(), os.DirFS(exampleFleet), Options{Cache: cache, AllReleases: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Problems) > 0 {
		t.Fatalf("problems: %v", rev.Problems)
	}
	if got := len(rev.SiteNames()); got != 6 {
		t.Fatalf("planned %d sites, want 6", got)
	}
	builds := cache.Builds()
	if builds == 0 {
		t.Fatal("nothing rendered")
	}
	// The same revision again renders nothing.
	if _, err := Plan(context.Background(), os.DirFS(exampleFleet), Options{Cache: cache, AllReleases: true}); err != nil {
		t.Fatal(err)
	}
	if got := cache.Builds(); got != builds {
		t.Fatalf("second plan ran %d more builds, want 0", got-builds)
	}
}

func TestSiteList(t *testing.T) {
	for _, tc := range []struct {
		sites []string
		want  string
	}{
		{[]string{"a"}, "site a"},
		{[]string{"a", "b"}, "sites a, b"},
		{[]string{"a", "b", "c", "d", "e", "f", "g"}, "sites a, b, c, d, e and 2 more"},
	} {
		if got := siteList(tc.sites); got != tc.want {
			t.Errorf("siteList(%v) = %q, want %q", tc.sites, got, tc.want)
		}
	}
}

func TestCollectorReportsOnceWithSites(t *testing.T) {
	c := &collector{}
	loadErr := fleetError("products/p/product.yaml", "broken")
	c.add("", loadErr)
	c.add("s1", loadErr) // the loader's problem, seen again at a site
	renderErr := fleetError("products/p/releases/1.0.0", "kustomize build: boom")
	c.add("s2", renderErr)
	c.add("s1", renderErr)
	c.add("s1", renderErr)
	got := c.sorted()
	want := []string{
		"products/p/product.yaml: broken",
		"products/p/releases/1.0.0: kustomize build: boom (sites s1, s2)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func fleetError(file, msg string) *fleet.Error { return &fleet.Error{File: file, Msg: msg} }

// corpusFleet reads the reconcile package's good corpus fleet, with files
// replaced.
func corpusFleet(t *testing.T, changes map[string]string) fstest.MapFS {
	t.Helper()
	const dir = "../reconcile/testdata/corpus"
	fsys := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(os.DirFS(dir), p)
		fsys[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range changes {
		fsys[p] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

func TestPlanFindsObjectsOfTwoProducts(t *testing.T) {
	fsys := corpusFleet(t, map[string]string{
		"products/web/releases/1.0.0/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\n  namespace: corpus-api\ndata:\n  rev: stolen\n",
	})
	rev, err := Plan(context.Background(), fsys, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rev.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		"products/api/releases/1.0.0/configmap.yaml:4: metadata.name: ConfigMap/corpus-api/api-config is also rendered by product web (products/web/releases/1.0.0/configmap.yaml:4) and no product owns it at this site yet: all of them are held until only one renders it (site corpus)",
		"products/web/releases/1.0.0/configmap.yaml:4: metadata.name: ConfigMap/corpus-api/api-config is also rendered by product api (products/api/releases/1.0.0/configmap.yaml:4) and no product owns it at this site yet: all of them are held until only one renders it (site corpus)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The good fleet has none.
	if rev, err := Plan(context.Background(), corpusFleet(t, nil), Options{}); err != nil || len(rev.Problems) > 0 {
		t.Errorf("the good corpus fleet: %v, %v", rev.Problems, err)
	}
}
