package conflict

import (
	"bytes"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Contested reports whether a field manager other than self may own a field
// that desired sets, reading the live object's managedFields. Ownership
// through a subresource counts: `kubectl scale` and a HorizontalPodAutoscaler
// own /spec/replicas through /scale, and the API server records that
// ownership under the main resource's path, with subresource "scale".
//
// It is a cheap filter before Detect's dry run, so it errs towards true: a
// field set by another manager counts when every map key on its path exists
// in desired, up to the first list element (list elements are matched by the
// API server, not here). Fields Git does not set — a controller's status, the
// annotations it adds — do not count.
func Contested(desired, live *unstructured.Unstructured, self string) bool {
	if live == nil {
		return false
	}
	for _, mf := range live.GetManagedFields() {
		if mf.Manager == self && mf.Subresource == "" {
			continue
		}
		if mf.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			// Unreadable ownership: let the API server decide.
			return true
		}
		contested := false
		set.Iterate(func(p fieldpath.Path) {
			contested = contested || setsPath(desired.Object, p)
		})
		if contested {
			return true
		}
	}
	return false
}

// setsPath reports whether obj may set the field at p: every field name of p
// up to its first list element is a key of obj.
func setsPath(obj map[string]any, p fieldpath.Path) bool {
	var cur any = obj
	for _, pe := range p {
		if pe.FieldName == nil {
			// A list element (by key, value or index): the API server
			// matches those.
			return true
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[*pe.FieldName]; !ok {
			return false
		}
	}
	return len(p) > 0
}
