package render

import (
	"context"
	"testing"
	"testing/fstest"
)

// FuzzKustomization feeds arbitrary kustomization files through the checks
// and the render: whatever the input, it must not panic and must not reach
// outside the in-memory repo.
func FuzzKustomization(f *testing.F) {
	for _, seed := range []string{
		"resources: [deploy.yaml]\n",
		"resources: [https://example.com/x.yaml]\n",
		"resources: [../../../../etc]\n",
		"components: [../c]\nresources: [deploy.yaml]\n",
		"configMapGenerator:\n- name: c\n  files: [a=deploy.yaml]\n",
		"patches:\n- path: deploy.yaml\n",
		"helmCharts: [{name: x}]\n",
		"resources: [.]\n",
		"bases: [/abs]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, kustomization string) {
		fsys := fstest.MapFS{
			"products/p/releases/1.0.0/kustomization.yaml": file(kustomization),
			"products/p/releases/1.0.0/deploy.yaml":        file(deployment),
			"products/p/releases/c/kustomization.yaml":     file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"),
		}
		repo, err := LoadRepo(fsys)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = repo.Render(context.Background(), Request{Site: "s", Product: "p", Version: "1.0.0", ReleaseDir: "products/p/releases/1.0.0"})
	})
}
