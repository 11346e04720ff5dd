package render

import (
	"context"
	"testing"
	"testing/fstest"
)

func TestCacheRendersEachInputOnce(t *testing.T) {
	ctx := context.Background()
	fsys := baseRepo()
	fsys["bases/web/kustomization.yaml"] = file("resources: [cm.yaml]\n")
	fsys["bases/web/cm.yaml"] = file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: '1'}\n")
	fsys["products/web/releases/2.0.0/kustomization.yaml"] = file("resources: [../1.0.0/deploy.yaml, ../../../../bases/web]\n")
	web := func(site, version, component string) Request {
		return Request{Site: site, Product: "web", Version: version, ReleaseDir: "products/web/releases/" + version, ComponentDir: component, Namespace: "web"}
	}
	cache := NewCache()
	render := func(fsys fstest.MapFS, reqs ...Request) []Result {
		t.Helper()
		repo, err := LoadRepo(fsys)
		if err != nil {
			t.Fatal(err)
		}
		results := cache.RenderAll(ctx, repo, reqs)
		for _, res := range results {
			if res.Err != nil {
				t.Fatalf("%s/%s: %v", res.Request.Site, res.Request.Version, res.Err)
			}
		}
		return results
	}

	results := render(fsys, web("a", "1.0.0", ""), web("b", "1.0.0", ""), web("edge-1", "1.0.0", "sites/edge-1/products/web"), web("a", "2.0.0", ""))
	if got := cache.Builds(); got != 3 {
		t.Fatalf("builds = %d, want 3 (1.0.0 shared by two sites, 1.0.0 with a Component, 2.0.0)", got)
	}
	for _, res := range results {
		for _, o := range res.Objects {
			if got := o.GetLabels()[LabelSite]; got != res.Request.Site {
				t.Fatalf("%s for site %s is labelled %s", o.GetName(), res.Request.Site, got)
			}
		}
	}
	// Each result owns its objects.
	results[0].Objects[0].SetName("changed")
	if results[1].Objects[0].GetName() == "changed" {
		t.Fatal("two sites share one object")
	}

	for _, tc := range []struct {
		name   string
		edit   func(fstest.MapFS)
		builds int // new builds for the four requests
	}{
		{"nothing changed", func(fstest.MapFS) {}, 0},
		{"a file no render reads", func(m fstest.MapFS) { m["sites/a/site.yaml"] = file("changed") }, 0},
		{"the shared base of 2.0.0", func(m fstest.MapFS) {
			m["bases/web/cm.yaml"] = file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: '2'}\n")
		}, 1},
		{"a file of 1.0.0, read by 2.0.0 too", func(m fstest.MapFS) {
			m["products/web/releases/1.0.0/deploy.yaml"] = file(deployment + "  minReadySeconds: 5\n")
		}, 3},
		{"the Component", func(m fstest.MapFS) {
			m["sites/edge-1/products/web/replicas.yaml"] = file("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n")
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := fstest.MapFS{}
			for k, v := range fsys {
				changed[k] = v
			}
			tc.edit(changed)
			before := cache.Builds()
			render(changed, web("a", "1.0.0", ""), web("b", "1.0.0", ""), web("edge-1", "1.0.0", "sites/edge-1/products/web"), web("a", "2.0.0", ""))
			if got := cache.Builds() - before; got != tc.builds {
				t.Fatalf("new builds = %d, want %d", got, tc.builds)
			}
		})
	}
}

func TestCacheKeepsFailures(t *testing.T) {
	repo, err := LoadRepo(baseRepo())
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache()
	req := Request{Site: "a", Product: "brokenyaml", Version: "1.0.0", ReleaseDir: "products/brokenyaml/releases/1.0.0"}
	for i := 0; i < 2; i++ {
		res := cache.RenderAll(context.Background(), repo, []Request{req, req})
		if res[0].Err == nil || res[1].Err == nil {
			t.Fatalf("broken release rendered: %+v", res)
		}
	}
	if got := cache.Builds(); got != 1 {
		t.Fatalf("builds = %d, want 1", got)
	}
	// A request that fails before rendering (a remote base) is reported too.
	res := cache.RenderAll(context.Background(), repo, []Request{{Site: "a", Product: "remote", Version: "1.0.0", ReleaseDir: "products/remote/releases/1.0.0"}})
	if res[0].Err == nil {
		t.Fatal("remote base rendered")
	}
}

func TestCacheTrimKeepsWhatWasAskedForSinceTheLastTrim(t *testing.T) {
	ctx := context.Background()
	web := func(version string) Request {
		return Request{Site: "a", Product: "web", Version: version, ReleaseDir: "products/web/releases/" + version, Namespace: "web"}
	}
	fsys := baseRepo()
	fsys["products/web/releases/2.0.0/kustomization.yaml"] = file("resources: [../1.0.0/deploy.yaml]\n")
	repo, err := LoadRepo(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewCache()
	for _, step := range []struct {
		name     string
		versions []string
		trim     bool
		builds   int // new builds of this step
	}{
		{"first renders", []string{"1.0.0", "2.0.0"}, true, 2},
		{"both kept by the trim after them", []string{"1.0.0", "2.0.0"}, true, 0},
		{"only 2.0.0 asked for, then trimmed", []string{"2.0.0"}, true, 0},
		{"1.0.0 was dropped by that trim", []string{"1.0.0"}, false, 1},
		{"2.0.0 is kept until the next trim", []string{"2.0.0"}, false, 0},
	} {
		before := cache.Builds()
		var reqs []Request
		for _, v := range step.versions {
			reqs = append(reqs, web(v))
		}
		for _, res := range cache.RenderAll(ctx, repo, reqs) {
			if res.Err != nil {
				t.Fatalf("%s: %v", step.name, res.Err)
			}
		}
		if got := cache.Builds() - before; got != step.builds {
			t.Errorf("%s: %d builds, want %d", step.name, got, step.builds)
		}
		if step.trim {
			cache.Trim()
		}
	}
}
