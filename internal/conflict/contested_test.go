package conflict

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestContested(t *testing.T) {
	desired := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "web:1"}}}},
		},
	}}
	entry := func(manager, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Subresource: subresource, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	const replicas = `{"f:spec":{"f:replicas":{}}}`
	tests := []struct {
		name string
		mfs  []metav1.ManagedFieldsEntry
		want bool
	}{
		{"only syncd", []metav1.ManagedFieldsEntry{entry("syncd", "", replicas)}, false},
		{"kubectl edit of replicas", []metav1.ManagedFieldsEntry{entry("syncd", "", `{}`), entry("kubectl-edit", "", replicas)}, true},
		{"kubectl scale through /scale", []metav1.ManagedFieldsEntry{entry("syncd", "", `{}`), entry("kubectl-scale", "scale", replicas)}, true},
		{"an HPA through /scale", []metav1.ManagedFieldsEntry{entry("kube-controller-manager", "scale", replicas)}, true},
		{"a controller's status", []metav1.ManagedFieldsEntry{entry("kube-controller-manager", "status", `{"f:status":{"f:replicas":{}}}`)}, false},
		{"an annotation Git does not set", []metav1.ManagedFieldsEntry{entry("kube-controller-manager", "", `{"f:metadata":{"f:annotations":{".":{},"f:deployment.kubernetes.io/revision":{}}}}`)}, false},
		{"a label Git sets", []metav1.ManagedFieldsEntry{entry("other", "", `{"f:metadata":{"f:labels":{"f:app":{}}}}`)}, true},
		{"a container image, by list key", []metav1.ManagedFieldsEntry{entry("kubectl-set", "", `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}}}}}}`)}, true},
		{"a field below a scalar Git sets", []metav1.ManagedFieldsEntry{entry("other", "", `{"f:spec":{"f:replicas":{"f:x":{}}}}`)}, false},
		{"no managed fields", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := desired.DeepCopy()
			live.SetManagedFields(tt.mfs)
			if got := Contested(desired, live, "syncd"); got != tt.want {
				t.Fatalf("Contested = %v, want %v", got, tt.want)
			}
		})
	}
	if Contested(desired, nil, "syncd") {
		t.Fatal("Contested with no live object = true")
	}
}

func TestManagerOf(t *testing.T) {
	tests := []struct{ msg, manager, subresource string }{
		{`conflict with "kubectl-edit" using v1`, "kubectl-edit", ""},
		{`conflict with "kubectl-scale" with subresource "scale" using apps/v1`, "kubectl-scale", "scale"},
		{`conflict with "kube-controller-manager" with subresource "scale" using apps/v1 at 2026-01-02T03:04:05Z`, "kube-controller-manager", "scale"},
		{`conflict with "other"`, "other", ""},
		{`conflict with "a \"quoted\" one" using v1`, `a "quoted" one`, ""},
		{`no quotes at all`, "no quotes at all", ""},
	}
	for _, tt := range tests {
		m, sub := managerOf(tt.msg)
		if m != tt.manager || sub != tt.subresource {
			t.Errorf("managerOf(%q) = %q, %q; want %q, %q", tt.msg, m, sub, tt.manager, tt.subresource)
		}
	}
}

// FuzzManagerOf checks that any message the API server could send parses
// without panicking, and that a well-formed one round-trips.
func FuzzManagerOf(f *testing.F) {
	f.Add(`conflict with "kubectl-edit" using v1`, "kubectl-edit", "")
	f.Add(`conflict with "kubectl-scale" with subresource "scale" using apps/v1`, "kubectl-scale", "scale")
	f.Add(`"`, "\x00", "\"")
	f.Fuzz(func(t *testing.T, msg, manager, subresource string) {
		managerOf(msg)
		built := `conflict with "` + escape(manager) + `"`
		if subresource != "" {
			built += ` with subresource "` + escape(subresource) + `"`
		}
		built += " using v1"
		m, sub := managerOf(built)
		if m != manager || sub != subresource {
			t.Fatalf("managerOf(%q) = %q, %q; want %q, %q", built, m, sub, manager, subresource)
		}
	})
}

// escape quotes s as the API server's %q does, without the quotes.
func escape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
