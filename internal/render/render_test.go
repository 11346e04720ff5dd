package render

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.0.0
`

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func baseRepo() fstest.MapFS {
	return fstest.MapFS{
		"products/web/releases/1.0.0/kustomization.yaml": file("resources: [deploy.yaml, role.yaml, crd.yaml, widget.yaml]\n"),
		"products/web/releases/1.0.0/deploy.yaml":        file(deployment),
		"products/web/releases/1.0.0/role.yaml":          file("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: web-reader}\nrules: []\n"),
		"products/web/releases/1.0.0/crd.yaml": file(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`),
		"products/web/releases/1.0.0/widget.yaml":                  file("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"),
		"sites/edge-1/products/web/kustomization.yaml":             file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- path: replicas.yaml\n"),
		"sites/edge-1/products/web/replicas.yaml":                  file("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n"),
		"products/remote/releases/1.0.0/kustomization.yaml":        file("resources: [https://example.com/app.yaml]\n"),
		"products/outside/releases/1.0.0/kustomization.yaml":       file("resources: [../../../../../etc]\n"),
		"products/empty/releases/1.0.0/kustomization.yaml":         file("resources: []\n"),
		"products/helm/releases/1.0.0/kustomization.yaml":          file("helmCharts: [{name: x, repo: https://charts.example.com}]\n"),
		"products/gitbase/releases/1.0.0/kustomization.yaml":       file("resources: ['git@github.com:acme/base.git']\n"),
		"products/nested/releases/1.0.0/kustomization.yaml":        file("resources: [../../../../bases/common]\n"),
		"bases/common/kustomization.yaml":                          file("resources: [https://example.com/x.yaml]\n"),
		".git/config":                                              file("never read"),
		"products/brokenyaml/releases/1.0.0/kustomization.yaml":    file("resources: [bad.yaml]\n"),
		"products/brokenyaml/releases/1.0.0/bad.yaml":              file("kind: [unclosed\n"),
		"products/brokenindent/releases/1.0.0/kustomization.yaml":  file("resources: [deployment.yaml]\n"),
		"products/brokenindent/releases/1.0.0/deployment.yaml":     file("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n labels: {app: web}\nspec: {}\n"),
		"products/generator/releases/1.0.0/kustomization.yaml":     file("configMapGenerator:\n- name: cfg\n  files: [app.conf=/etc/passwd]\n"),
		"products/generatorgood/releases/1.0.0/kustomization.yaml": file("configMapGenerator:\n- name: cfg\n  files: [app.conf]\n  options: {disableNameSuffixHash: true}\n"),
		"products/generatorgood/releases/1.0.0/app.conf":           file("a=1\n"),
		// kustomize v0.21 panics on a generator name ending in a comma (found by FuzzKustomization).
		"products/panics/releases/1.0.0/kustomization.yaml":  file("configMapGenerator:\n- name: C,\n"),
		"products/openapi/releases/1.0.0/kustomization.yaml": file("resources: [deploy.yaml]\nopenapi: {path: schema.json}\n"),
		"products/openapi/releases/1.0.0/deploy.yaml":        file(deployment),
		"products/openapi/releases/1.0.0/schema.json":        file(`{"definitions": {}}`),
	}
}

func TestRenderLabelsNamespacesAndOrders(t *testing.T) {
	repo, err := LoadRepo(baseRepo())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := repo.Render(context.Background(), Request{
		Site: "cloud-1", Product: "web", Version: "1.0.0",
		ReleaseDir: "products/web/releases/1.0.0", Namespace: "web",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		l := o.GetLabels()
		if l[LabelSite] != "cloud-1" || l[LabelProduct] != "web" || l[LabelVersion] != "1.0.0" {
			t.Errorf("%s/%s labels = %v, want syncd.dev site/product/version", o.GetKind(), o.GetName(), l)
		}
	}
	want := []string{
		"CustomResourceDefinition//widgets.example.com",
		"ClusterRole//web-reader",
		"Deployment/web/web",
		"Widget//w", // cluster-scoped by its CRD in the same render
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("objects = %v\nwant      %v", got, want)
	}
}

func TestRenderAppliesSiteComponent(t *testing.T) {
	repo, err := LoadRepo(baseRepo())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := repo.Render(context.Background(), Request{
		Site: "edge-1", Product: "web", Version: "1.0.0", Namespace: "web",
		ReleaseDir: "products/web/releases/1.0.0", ComponentDir: "sites/edge-1/products/web",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			replicas, _, _ := unstructuredInt(o.Object, "spec", "replicas")
			if replicas != 1 {
				t.Fatalf("replicas = %d, want 1 from the site's component", replicas)
			}
			return
		}
	}
	t.Fatal("no Deployment rendered")
}

func TestRenderRefusesWhatIsNotInTheRepo(t *testing.T) {
	repo, err := LoadRepo(baseRepo())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		product string
		want    string
	}{
		{"remote", `products/remote/releases/1.0.0/kustomization.yaml:1: resources[0]: "https://example.com/app.yaml" is remote`},
		{"gitbase", `resources[0]: "git@github.com:acme/base.git" is remote`},
		{"outside", `resources[0]: "../../../../../etc" is not a file or directory of the fleet repo`},
		{"nested", `bases/common/kustomization.yaml:1: resources[0]: "https://example.com/x.yaml" is remote`},
		{"helm", `helmCharts: Helm chart inflation is not supported`},
		{"generator", `configMapGenerator[0].files[0]: "/etc/passwd" is not a file or directory of the fleet repo`},
		{"empty", `renders no objects`},
		{"brokenyaml", `kustomize build products/brokenyaml/releases/1.0.0: products/brokenyaml/releases/1.0.0/bad.yaml:1: did not find expected ',' or ']'`},
		{"brokenindent", `kustomize build products/brokenindent/releases/1.0.0: products/brokenindent/releases/1.0.0/deployment.yaml:5: did not find expected key`},
		{"missing", `release directory products/missing/releases/1.0.0 does not exist`},
		{"panics", `kustomize build products/panics/releases/1.0.0: kustomize failed on this input (a kustomize bug): number of previous names`},
		{"openapi", `products/openapi/releases/1.0.0/kustomization.yaml:2: openapi: not supported yet`},
	}
	var reqs []Request
	for _, tt := range tests {
		reqs = append(reqs, Request{Site: "s", Product: tt.product, Version: "1.0.0", ReleaseDir: "products/" + tt.product + "/releases/1.0.0"})
	}
	reqs = append(reqs, Request{Site: "s", Product: "generatorgood", Version: "1.0.0", ReleaseDir: "products/generatorgood/releases/1.0.0"})
	results := repo.RenderAll(context.Background(), reqs)
	for i, tt := range tests {
		t.Run(tt.product, func(t *testing.T) {
			if results[i].Err == nil || !strings.Contains(results[i].Err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", results[i].Err, tt.want)
			}
		})
	}
	if last := results[len(results)-1]; last.Err != nil || len(last.Objects) != 1 {
		t.Fatalf("a good product next to broken ones: objects %d, err %v", len(last.Objects), last.Err)
	}
}

func TestLoadRepoSymlinks(t *testing.T) {
	dir := t.TempDir()
	rel := filepath.Join(dir, "products/web/releases/1.0.0")
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "shared.yaml"), []byte(deployment), 0o644))
	must(t, os.WriteFile(filepath.Join(rel, "kustomization.yaml"), []byte("resources: [deploy.yaml]\n"), 0o644))
	must(t, os.Symlink("../../../../shared.yaml", filepath.Join(rel, "deploy.yaml")))

	repo, err := LoadRepo(os.DirFS(dir))
	if err != nil {
		t.Fatalf("a symlink inside the repo: %v", err)
	}
	objs, err := repo.Render(context.Background(), Request{Site: "s", Product: "web", Version: "1.0.0", ReleaseDir: "products/web/releases/1.0.0"})
	if err != nil || len(objs) != 1 {
		t.Fatalf("render through an inner symlink: %d objects, %v", len(objs), err)
	}

	// An escaping symlink fails the render of the release that holds it,
	// and only that one.
	must(t, os.Symlink("../../../../../outside.yaml", filepath.Join(rel, "escape.yaml")))
	other := filepath.Join(dir, "products/api/releases/1.0.0")
	must(t, os.MkdirAll(other, 0o755))
	must(t, os.WriteFile(filepath.Join(other, "kustomization.yaml"), []byte("resources: [../../../../shared.yaml]\n"), 0o644))
	repo, err = LoadRepo(os.DirFS(dir))
	if err != nil {
		t.Fatalf("LoadRepo with an escaping symlink: %v, want the render of its release to fail instead", err)
	}
	_, err = repo.Render(context.Background(), Request{Site: "s", Product: "web", Version: "1.0.0", ReleaseDir: "products/web/releases/1.0.0"})
	if !errors.Is(err, ErrSymlinkEscapes) || !strings.Contains(err.Error(), "products/web/releases/1.0.0/escape.yaml -> ../../../../../outside.yaml") {
		t.Fatalf("escaping symlink: err = %v, want ErrSymlinkEscapes naming the link", err)
	}
	if objs, err := repo.Render(context.Background(), Request{Site: "s", Product: "api", Version: "1.0.0", ReleaseDir: "products/api/releases/1.0.0"}); err != nil || len(objs) != 1 {
		t.Fatalf("a release next to the escaping symlink: %d objects, %v", len(objs), err)
	}
	// A kustomization that names a file left out names it.
	must(t, os.WriteFile(filepath.Join(other, "kustomization.yaml"), []byte("resources:\n- ../../../web/releases/1.0.0/escape.yaml\n"), 0o644))
	if repo, err = LoadRepo(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	_, err = repo.Render(context.Background(), Request{Site: "s", Product: "api", Version: "1.0.0", ReleaseDir: "products/api/releases/1.0.0"})
	if !errors.Is(err, ErrSymlinkEscapes) || !strings.Contains(err.Error(), "products/api/releases/1.0.0/kustomization.yaml:2: resources[0]:") {
		t.Fatalf("a kustomization naming an escaping symlink: err = %v", err)
	}
}

// A link through a directory link that leaves the repo is refused: the
// directory link is checked too, not only the lexical path of the target.
func TestLoadRepoRefusesLinksThroughEscapingLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(outsideMarker+"=1\n"), 0o644))
	rel := filepath.Join(dir, "products/web/releases/1.0.0")
	must(t, os.MkdirAll(rel, 0o755))
	must(t, os.WriteFile(filepath.Join(rel, "kustomization.yaml"), []byte("configMapGenerator:\n- name: c\n  files: [leak.txt]\n"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(rel, "out")))
	must(t, os.Symlink("out/secret.txt", filepath.Join(rel, "leak.txt")))
	repo, err := LoadRepo(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := repo.Render(context.Background(), Request{Site: "s", Product: "web", Version: "1.0.0", ReleaseDir: "products/web/releases/1.0.0"})
	if !errors.Is(err, ErrSymlinkEscapes) {
		t.Fatalf("a link through a link to %s: %d objects, err = %v; want ErrSymlinkEscapes", outside, len(objs), err)
	}
	if data, err := repo.fs.ReadFile("/products/web/releases/1.0.0/leak.txt"); err == nil || strings.Contains(string(data), outsideMarker) {
		t.Fatalf("the file behind the links was loaded into the repo: %q, %v", data, err)
	}
}

// kustomize quotes a line of an env file that is not UTF-8 in its error; the
// render error must not carry it (it may be a secret's value).
func TestRenderErrorDoesNotQuoteASecretLine(t *testing.T) {
	repo, err := LoadRepo(fstest.MapFS{
		"products/p/releases/1.0.0/kustomization.yaml": file("secretGenerator:\n- name: s\n  envs: [secret.env]\n"),
		"products/p/releases/1.0.0/secret.env":         file("USER=admin\nPASSWORD=hunter2\xff\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Render(context.Background(), Request{Site: "s", Product: "p", Version: "1.0.0", ReleaseDir: "products/p/releases/1.0.0"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "104 117 110") {
		t.Fatalf("err = %q, want an error that does not quote the line", err)
	}
	if want := "env source files: [secret.env]: a line is not valid UTF-8 (the line is not shown"; !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	cur := any(obj)
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[f]
	}
	switch v := cur.(type) {
	case int64:
		return v, true, nil
	case float64:
		return int64(v), true, nil
	case int:
		return int64(v), true, nil
	}
	return 0, false, nil
}

func TestTooManyObjects(t *testing.T) {
	req := Request{Product: "many", ReleaseDir: "products/many/releases/1.0.0"}
	for _, tc := range []struct {
		n       int
		wantErr string
	}{
		{1, ""},
		{MaxObjects, ""},
		{MaxObjects + 1, fmt.Sprintf("kustomize build products/many/releases/1.0.0: product many renders %d objects, more than the limit of %d objects per product", MaxObjects+1, MaxObjects)},
	} {
		err := tooManyObjects(req, tc.n)
		if got := fmt.Sprint(err); tc.wantErr == "" && err != nil || tc.wantErr != "" && got != tc.wantErr {
			t.Errorf("tooManyObjects(%d) = %v, want %q", tc.n, err, tc.wantErr)
		}
	}
	// The limit users read is the one enforced.
	doc, err := os.ReadFile("../../docs/fleet-repo.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("At most %d objects per product", MaxObjects); !strings.Contains(string(doc), want) {
		t.Errorf("docs/fleet-repo.md does not say %q", want)
	}
}

func TestRenderClusterScopedNamespace(t *testing.T) {
	const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
	repo, err := LoadRepo(fstest.MapFS{
		"products/bad/releases/1.0.0/kustomization.yaml":  file("resources: [role.yaml]\n"),
		"products/bad/releases/1.0.0/role.yaml":           file("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n  namespace: shop\nrules: []\n"),
		"products/good/releases/1.0.0/kustomization.yaml": file("namespace: shop\nresources: [crd.yaml, widget.yaml, role.yaml]\n"),
		"products/good/releases/1.0.0/crd.yaml":           file(crd),
		"products/good/releases/1.0.0/widget.yaml":        file("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"),
		"products/good/releases/1.0.0/role.yaml":          file("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Render(context.Background(), Request{Site: "s", Product: "bad", Version: "1.0.0", ReleaseDir: "products/bad/releases/1.0.0", Namespace: "shop"})
	want := `kustomize build products/bad/releases/1.0.0: products/bad/releases/1.0.0/role.yaml:5: metadata.namespace: ClusterRole reader is cluster-scoped: it takes no namespace; remove metadata.namespace "shop"`
	if err == nil || err.Error() != want {
		t.Errorf("a namespace written on a cluster-scoped object: %v\nwant %s", err, want)
	}
	// Cluster-scoped objects are allowed; a namespace the kustomization
	// gives a cluster-scoped custom kind is dropped.
	objs, err := repo.Render(context.Background(), Request{Site: "s", Product: "good", Version: "1.0.0", ReleaseDir: "products/good/releases/1.0.0", Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() != "" {
			t.Errorf("%s/%s has namespace %q, want none: it is cluster-scoped", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
}
