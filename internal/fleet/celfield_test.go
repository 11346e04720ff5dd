package fleet

import (
	"fmt"
	"testing"
)

func TestPolicyField(t *testing.T) {
	object := map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{
			"replicas": int64(1),
			"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "proxy", "image": "proxy:1.0"},
				map[string]any{"name": "app", "image": "web:latest"},
			}}},
		},
	}
	for _, tc := range []struct {
		rule, want string
	}{
		{"object.kind != 'Deployment' || object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
			"spec.template.spec.containers[1].image"},
		{"object.spec.template.spec.containers.exists(c, c.name == 'nosuch')", "spec.template.spec.containers[1].name"},
		{"object.spec.replicas >= 2", "spec.replicas"},
		{"has(object.metadata.labels.owner)", "metadata.labels.owner"},
		{"object.metadata.labels['app'] == 'other'", "metadata.labels[app]"},
		{"object.spec.template.spec.containers[0].image == 'x'", "spec.template.spec.containers[0].image"},
		{"object.metadata.labels.all(k, k != 'app')", "metadata.labels[app]"},
		{"site.name == 'other'", ""},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			files := baseFiles()
			files["fleet.yaml"] += fmt.Sprintf("  policies:\n    - name: p\n      rule: %q\n", tc.rule)
			repo := mustLoad(t, mapFS(files, nil))
			p := &repo.Fleet.Spec.Policies[0]
			site := repo.Sites["s1"]
			if ok, err := p.Allows(object, site); ok || err != nil {
				t.Fatalf("Allows = %v, %v; want a violation", ok, err)
			}
			if got := p.Field(object, site); got != tc.want {
				t.Errorf("Field = %q, want %q", got, tc.want)
			}
		})
	}
}
