package fleetplan

import (
	"testing"
	"testing/fstest"
)

func TestSourcesFind(t *testing.T) {
	fsys := fstest.MapFS{
		"products/web/releases/1.0.0/kustomization.yaml": {Data: []byte("resources: [all.yaml]\nkind: Kustomization\nmetadata: {name: not-an-object}\n")},
		"products/web/releases/1.0.0/all.yaml": {Data: []byte(`# leading comment
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec: {replicas: 3}
`)},
		"products/web/releases/1.0.0/broken.yaml":     {Data: []byte("kind: [\n")},
		"products/web/releases/1.0.0/notes.txt":       {Data: []byte("kind: Deployment\nmetadata: {name: web}\n")},
		"sites/edge/products/web/patch.yml":           {Data: []byte("kind: Service\nmetadata:\n  name: web\n")},
		"sites/edge/products/web/kustomization.yml":   {Data: []byte("kind: Component\nmetadata: {name: web}\n")},
		"products/web/releases/2.0.0/deployment.yaml": {Data: []byte("kind: Deployment\nmetadata: {name: other}\n")},
	}
	src := &sources{fsys: fsys}
	release, component := "products/web/releases/1.0.0", "sites/edge/products/web"
	for _, tc := range []struct {
		kind, name string
		file       string
		line       int
	}{
		{"ConfigMap", "web", "products/web/releases/1.0.0/all.yaml", 2},
		{"Deployment", "web", "products/web/releases/1.0.0/all.yaml", 6},
		{"Service", "web", "sites/edge/products/web/patch.yml", 1},
		{"Kustomization", "not-an-object", "", 0}, // kustomization files are not objects
		{"Component", "web", "", 0},
		{"Deployment", "other", "", 0}, // another release
		{"Secret", "web", "", 0},
	} {
		file, line := src.find(tc.kind, tc.name, release, component)
		if file != tc.file || line != tc.line {
			t.Errorf("find(%s, %s) = %s:%d, want %s:%d", tc.kind, tc.name, file, line, tc.file, tc.line)
		}
	}
	if file, _ := src.find("Deployment", "web", "", release); file == "" {
		t.Error("an empty directory is not skipped")
	}
}

func TestObjectKindName(t *testing.T) {
	for object, want := range map[string][2]string{
		"Deployment/ns/web": {"Deployment", "web"},
		"Namespace/web":     {"Namespace", "web"},
		"ClusterRole/a:b":   {"ClusterRole", "a:b"},
	} {
		if k, n := objectKindName(object); k != want[0] || n != want[1] {
			t.Errorf("objectKindName(%q) = %s, %s, want %v", object, k, n, want)
		}
	}
}
