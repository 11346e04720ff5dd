package inventory

import (
	"slices"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func entry(kind, name string) Entry {
	return Entry{ID: object.ObjMetadata{Namespace: "ns", Name: name, GroupKind: schema.GroupKind{Group: "apps", Kind: kind}}, Version: "v1"}
}

func TestWithoutAndUnion(t *testing.T) {
	a, b, c := entry("Deployment", "a"), entry("Deployment", "b"), entry("ConfigMap", "a")
	tests := []struct {
		name    string
		entries []Entry
		ids     IDs
		want    []Entry
	}{
		{"nothing desired", []Entry{a, b}, IDs{}, []Entry{a, b}},
		{"some desired", []Entry{a, b, c}, IDs{b.ID: true}, []Entry{a, c}},
		{"same name, other kind", []Entry{a, c}, IDs{a.ID: true}, []Entry{c}},
		{"all desired", []Entry{a}, IDs{a.ID: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Without(tt.entries, tt.ids); !slices.Equal(got, tt.want) {
				t.Fatalf("Without = %v, want %v", got, tt.want)
			}
		})
	}
	newer := b
	newer.Version = "v2"
	if got, want := Union([]Entry{b, a}, []Entry{newer}), []Entry{a, newer}; !slices.Equal(got, want) {
		t.Fatalf("Union = %v, want %v (sorted, b's version winning)", got, want)
	}
}
