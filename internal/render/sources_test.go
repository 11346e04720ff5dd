package render

import "testing"

func TestSourceFieldLine(t *testing.T) {
	const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: sidecar
          image: proxy:1
        - name: app
          image: web:1
          ports:
            - containerPort: 80
              protocol: TCP
      finalizers: [a, b]
`
	docs := documents([]byte(manifest))
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	// The node parsed, or parsed again from the file's text when asked
	// (as declared keeps them), the document first or after another one.
	const before = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n"
	for _, tt := range []struct {
		name  string
		src   Source
		shift int
	}{
		{"parsed", Source{File: "deployment.yaml", Line: docs[0].Line, doc: docs[0]}, 0},
		{"from text", Source{File: "deployment.yaml", Line: docs[0].Line, text: manifest}, 0},
		{"second document, from text", Source{File: "deployment.yaml", Line: docs[0].Line + 4, text: before + manifest, index: 1}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) { checkFieldLines(t, tt.src, tt.shift) })
	}
}

// checkFieldLines checks src's lines and fields against the manifest of
// TestSourceFieldLine, whose lines start shift lines down the file.
func checkFieldLines(t *testing.T, src Source, shift int) {
	t.Helper()
	for _, tc := range []struct {
		path string
		want int
	}{
		{"kind", 2},
		{"apiVersion", 1},
		{".spec.replicas", 8},
		{"spec.replicas", 8},
		{"spec.template.spec.containers[1].image", 15},
		{"spec.template.spec.containers[0]", 12},
		{`.spec.template.spec.containers[name="app"].image`, 15},
		{`.spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].protocol`, 18},
		{`spec.template.spec.finalizers[="b"]`, 19},
		{"metadata.labels[app]", 6},
		{`metadata.labels["app"]`, 6},
		// Missing fields: the nearest parent that exists.
		{"spec.replicaz", 7},
		{"spec.template.spec.containers[5].image", 11},
		{`spec.template.spec.containers[name="nosuch"].image`, 11},
		{"nosuch.field", 1},
		{"spec.template.spec.containers[name=", 11},
		{"", 1},
	} {
		if got := src.FieldLine(tc.path); got != tc.want+shift {
			t.Errorf("FieldLine(%q) = %d, want %d", tc.path, got, tc.want+shift)
		}
	}
	for path, want := range map[string]bool{
		"metadata.name":      true,
		"metadata.namespace": false,
		`spec.template.spec.containers[name="app"].ports[0].protocol`: true,
		"spec.template.spec.containers[2]":                            false,
	} {
		if got := src.Declares(path); got != want {
			t.Errorf("Declares(%q) = %v, want %v", path, got, want)
		}
	}
}
