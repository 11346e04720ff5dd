package fleetdiff

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"testing/fstest"

	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/render"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// genFleet generates a fleet repo of n sites (site-000...), half on dev and
// half on prod, and three products: web (every site; every tenth site has a
// Component for it), db (prod sites, needs web 1.0.0) and agent (every site).
func genFleet(n int) fstest.MapFS {
	m := fstest.MapFS{
		"fleet.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: gen}\nspec:\n  channels: [dev, prod]\n"),
	}
	release := func(product, version string) {
		dir := fmt.Sprintf("products/%s/releases/%s/", product, version)
		m[dir+"kustomization.yaml"] = file("resources: [deploy.yaml, secret.yaml]\n")
		m[dir+"deploy.yaml"] = file(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: %[1]s, image: "registry.example.com/%[1]s:%[2]s"}]
`, product, version))
		m[dir+"secret.yaml"] = file(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\nstringData: {password: hunter2}\n", product))
	}
	product := func(name, targets string, extra string) {
		m["products/"+name+"/product.yaml"] = file(fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: %s}\nspec:\n  targets: %q\n  namespace: %s\n%s", name, targets, name, extra))
	}
	channels := func(name, dev, prod string) {
		m["channels/"+name+".yaml"] = file(fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {dev: %s, prod: %s}\n", name, dev, prod))
	}
	product("web", "true", "")
	release("web", "1.0.0")
	release("web", "1.1.0")
	channels("web", "1.1.0", "1.0.0")
	product("db", "site.labels.class == 'prod'", "  dependencies: [{product: web, minVersion: 1.0.0}]\n")
	release("db", "3.0.0")
	channels("db", "3.0.0", "3.0.0")
	product("agent", "true", "")
	release("agent", "0.1.0")
	channels("agent", "0.1.0", "0.1.0")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("site-%03d", i)
		class := "dev"
		if i%2 == 1 {
			class = "prod"
		}
		m["sites/"+name+"/site.yaml"] = file(fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: %s, labels: {class: %s}}\nspec: {channel: %s}\n", name, class, class))
		if i%10 == 0 {
			dir := "sites/" + name + "/products/web/"
			m[dir+"kustomization.yaml"] = file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: replicas.yaml\n")
			m[dir+"replicas.yaml"] = file("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n")
		}
	}
	return m
}

// with returns a copy of m with files replaced (a nil file removes it).
func with(m fstest.MapFS, files map[string]*fstest.MapFile) fstest.MapFS {
	out := maps.Clone(m)
	for k, v := range files {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// compare plans both repos with one cache and compares them.
func compare(tb testing.TB, base, head fstest.MapFS, opts Options) (*Report, *render.Cache) {
	tb.Helper()
	cache := render.NewCache()
	ctx := context.Background()
	b, err := fleetplan.Plan(ctx, base, fleetplan.Options{Revision: "base", Cache: cache})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := fleetplan.Plan(ctx, head, fleetplan.Options{Revision: "head", Cache: cache})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Compare(b, h, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return r, cache
}
