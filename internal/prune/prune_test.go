package prune

import (
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/syncd-dev/syncd/internal/inventory"
)

func TestGuard(t *testing.T) {
	tests := []struct {
		name                   string
		deletes, total, maxPct int
		allowed, refused       bool
	}{
		{"nothing to delete", 0, 0, 0, false, false},
		{"half is allowed", 5, 10, 0, false, false},
		{"more than half is refused", 6, 10, 0, false, true},
		{"one of one is refused", 1, 1, 0, false, true},
		{"the trailer allows it", 10, 10, 0, true, false},
		{"a raised limit allows it", 6, 10, 60, false, false},
		{"100 allows everything", 10, 10, 100, false, false},
		{"a lower limit", 2, 10, 10, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Guard(tt.deletes, tt.total, tt.maxPct, tt.allowed)
			if (err != nil) != tt.refused {
				t.Fatalf("Guard = %v, want refused %v", err, tt.refused)
			}
			if err != nil && !strings.Contains(err.Error(), AllowMassPruneTrailer) {
				t.Fatalf("refusal %q does not say how to allow it", err)
			}
		})
	}
}

func TestSort(t *testing.T) {
	entry := func(name string) inventory.Entry {
		return inventory.Entry{ID: object.ObjMetadata{Namespace: "ns", Name: name, GroupKind: schema.GroupKind{Kind: "ConfigMap"}}, Version: "v1"}
	}
	live := func(annotations map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{}}
		u.SetAnnotations(annotations)
		return u
	}
	s := Sort([]Candidate{
		{Entry: entry("a"), Live: live(nil)},
		{Entry: entry("b"), Live: nil},
		{Entry: entry("c"), Live: live(map[string]string{"syncd.dev/prune": "disabled"})},
		{Entry: entry("d"), Live: live(map[string]string{"syncd.dev/prune": "enabled"})},
	})
	if len(s.Delete) != 2 || s.Delete[0].Entry.ID.Name != "a" || s.Delete[1].Entry.ID.Name != "d" {
		t.Errorf("Delete = %+v, want a and d", s.Delete)
	}
	if len(s.Gone) != 1 || s.Gone[0].ID.Name != "b" {
		t.Errorf("Gone = %+v, want b", s.Gone)
	}
	if len(s.Orphaned) != 1 || s.Orphaned[0].ID.Name != "c" {
		t.Errorf("Orphaned = %+v, want c", s.Orphaned)
	}
}

func TestAllowsMassPrune(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"drop ledger\n\nSyncd-Allow-Mass-Prune: true\n", true},
		{"drop ledger\r\n\r\nSyncd-Allow-Mass-Prune: true\r\n", true},
		{"drop ledger\n\nbody\n\nSigned-off-by: x <x@y>\nSYNCD-ALLOW-MASS-PRUNE:  True \n", true},
		{"drop ledger\n\nSyncd-Allow-Mass-Prune: yes\n", false},
		{"drop ledger\n\nSyncd-Allow-Mass-Prune: true\n\nNot a trailer any more.\n", false},
		{"Syncd-Allow-Mass-Prune: true\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := AllowsMassPrune(tt.msg); got != tt.want {
			t.Errorf("AllowsMassPrune(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestBlockers(t *testing.T) {
	obj := func(group, kind, name, uid string, owners ...string) metav1.PartialObjectMetadata {
		o := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
		o.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind})
		for _, ow := range owners {
			o.OwnerReferences = append(o.OwnerReferences, metav1.OwnerReference{UID: types.UID(ow)})
		}
		return o
	}
	deleting := obj("", "ConfigMap", "old", "u9")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	contents := []metav1.PartialObjectMetadata{
		obj("apps", "Deployment", "web", "u1"),
		obj("", "Service", "web", "u2"),
		// Owned by syncd's objects, transitively: do not count.
		obj("", "Pod", "web-abc-1", "u4", "u3"),
		obj("apps", "ReplicaSet", "web-abc", "u3", "u1"),
		obj("discovery.k8s.io", "EndpointSlice", "web-x", "u5", "u2"),
		obj("", "Endpoints", "web", "u6"),
		// Every namespace has these; Events are records.
		obj("", "ServiceAccount", "default", "u7"),
		obj("", "ConfigMap", "kube-root-ca.crt", "u8"),
		obj("", "Event", "web.123", "u10"),
		obj("events.k8s.io", "Event", "web.124", "u11"),
		deleting,
		// Not syncd's: these keep the namespace.
		obj("", "PersistentVolumeClaim", "data", "u12"),
		obj("example.com", "Widget", "theirs", "u13"),
		obj("", "ServiceAccount", "builder", "u14"),
	}
	ours := map[string]bool{"Deployment/web": true, "Service/web": true}
	got := Blockers(contents, func(id object.ObjMetadata) bool { return ours[id.GroupKind.Kind+"/"+id.Name] })
	want := []string{"PersistentVolumeClaim/data", "ServiceAccount/builder", "Widget.example.com/theirs"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Blockers = %v, want %v", got, want)
	}
	if d := Describe("ns", got); !strings.Contains(d, "3 object(s)") || !strings.Contains(d, "PersistentVolumeClaim/data") {
		t.Fatalf("Describe = %q", d)
	}
	many := make([]string, 8)
	for i := range many {
		many[i] = "ConfigMap/x"
	}
	if d := Describe("ns", many); !strings.Contains(d, "and 3 more") {
		t.Fatalf("Describe of 8 = %q, want the rest summed up", d)
	}
}
