package conflict

import (
	"encoding/json"
	"testing"
)

const deploymentJSON = `{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "app": "x"}},
  "spec": {
    "replicas": 3,
    "template": {"spec": {
      "containers": [
        {"name": "sidecar", "image": "proxy:1", "ports": [{"containerPort": 9090, "protocol": "TCP"}]},
        {"name": "app", "image": "web:1", "args": ["--a", "--b"],
         "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8080, "protocol": "UDP"}]}
      ]}}
  }
}`

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestResolveField(t *testing.T) {
	tests := []struct {
		path    string
		pointer string
		value   string
	}{
		{".spec.replicas", "/spec/replicas", "3"},
		{".metadata.labels.app.kubernetes.io/name", "/metadata/labels/app.kubernetes.io~1name", `"web"`},
		{".metadata.labels.app", "/metadata/labels/app", `"x"`},
		{`.spec.template.spec.containers[name="app"].image`, "/spec/template/spec/containers/1/image", `"web:1"`},
		{`.spec.template.spec.containers[name="app"].ports[containerPort=8080,protocol="UDP"]`, "/spec/template/spec/containers/1/ports/1", `{"containerPort":8080,"protocol":"UDP"}`},
		{`.spec.template.spec.containers[name="app"].args[="--b"]`, "/spec/template/spec/containers/1/args/1", `"--b"`},
		{`.spec.template.spec.containers[0].name`, "/spec/template/spec/containers/0/name", `"sidecar"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			obj := decode(t, deploymentJSON)
			f, err := ResolveField(obj, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Pointer(); got != tt.pointer {
				t.Errorf("Pointer() = %s, want %s", got, tt.pointer)
			}
			v, ok := f.Get(obj)
			if got, _ := json.Marshal(v); !ok || string(got) != tt.value {
				t.Errorf("Get() = %s %v, want %s", got, ok, tt.value)
			}
			if !f.Remove(obj) {
				t.Fatal("Remove() = false")
			}
			if g, err := ResolveField(obj, tt.path); err == nil {
				if v2, ok := g.Get(obj); ok && jsonEqual(v2, v) && g.Pointer() == f.Pointer() {
					t.Errorf("value still at %s after Remove", tt.path)
				}
			}
		})
	}
}

func TestResolveFieldErrors(t *testing.T) {
	for _, path := range []string{
		".spec.nothere",
		`.spec.template.spec.containers[name="nope"].image`,
		`.spec.template.spec.containers[name="app"`,
		".spec.replicas.deeper",
		`.spec.template.spec.containers[9]`,
		"spec",
		`.spec.template.spec.containers[name=]`,
	} {
		if _, err := ResolveField(decode(t, deploymentJSON), path); err == nil {
			t.Errorf("ResolveField(%s) succeeded, want an error", path)
		}
	}
}

func FuzzResolveField(f *testing.F) {
	for _, s := range []string{".spec.replicas", `.spec.template.spec.containers[name="app"].ports[containerPort=8080,protocol="UDP"]`, `[="x"]`, `.a[`, `.metadata.labels.app.kubernetes.io/name`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		obj := decode(t, deploymentJSON)
		fl, err := ResolveField(obj, path)
		if err != nil {
			return
		}
		if _, ok := fl.Get(obj); !ok {
			t.Fatalf("resolved %q but Get fails", path)
		}
		_ = fl.Pointer()
		fl.Remove(obj)
	})
}
