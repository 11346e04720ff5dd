// Package inventory records, in the cluster, which objects syncd applied for
// each product at a site, so that objects which leave the site's render can be
// pruned, even after a crash or a restart.
package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Entry identifies one applied object, with the API version it was applied at
// so it can be fetched and deleted later.
type Entry struct {
	ID      object.ObjMetadata
	Version string
	// ResourceVersion is the object's resource version right after syncd last
	// applied it, when known: a live object still at it was changed by nobody.
	ResourceVersion string
}

// String is the entry's stored form:
// "<namespace>_<name>_<group>_<kind> <version> [<resourceVersion>]".
func (e Entry) String() string {
	s := e.ID.String() + " " + e.Version
	if e.ResourceVersion != "" {
		s += " " + e.ResourceVersion
	}
	return s
}

// Object returns an empty object carrying the entry's identity, for Get and Delete.
func (e Entry) Object() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: e.ID.GroupKind.Group, Version: e.Version, Kind: e.ID.GroupKind.Kind})
	u.SetNamespace(e.ID.Namespace)
	u.SetName(e.ID.Name)
	return u
}

// parseEntry reads the stored form of an Entry.
func parseEntry(s string) (Entry, error) {
	fields := strings.Fields(s)
	if len(fields) < 2 || len(fields) > 3 {
		return Entry{}, fmt.Errorf("inventory entry %q: want \"<id> <version> [<resourceVersion>]\"", s)
	}
	meta, err := object.ParseObjMetadata(fields[0])
	if err != nil {
		return Entry{}, fmt.Errorf("inventory entry %q: %w", s, err)
	}
	e := Entry{ID: meta, Version: fields[1]}
	if len(fields) == 3 {
		e.ResourceVersion = fields[2]
	}
	return e, nil
}

// Inventory is what syncd applied for one product at one site.
type Inventory struct {
	// Product is the product's name.
	Product string
	// Version is the product release last applied in full.
	Version string
	// Revision is the fleet repo commit at which the inventory last changed.
	Revision string
	// Fingerprint identifies the rendered objects last applied in full
	// (see Fingerprint); empty while an apply is pending.
	Fingerprint string
	// Entries are the objects syncd owns for the product, sorted.
	Entries []Entry
}

// EntriesOf returns the entries of objects, sorted and without duplicates.
func EntriesOf(objs []*unstructured.Unstructured) []Entry {
	entries := make([]Entry, 0, len(objs))
	for _, o := range objs {
		entries = append(entries, Entry{ID: object.UnstructuredToObjMetadata(o), Version: o.GroupVersionKind().Version})
	}
	return normalize(entries)
}

// Union returns the entries in a or b; b's version wins for an object in both.
func Union(a, b []Entry) []Entry {
	all := make([]Entry, 0, len(a)+len(b))
	all = append(all, b...)
	all = append(all, a...)
	return normalize(all)
}

// IDs is a set of object identities.
type IDs map[object.ObjMetadata]bool

// Without returns the entries of a whose object is not in ids (built once,
// it is used against every inventory of a site).
func Without(a []Entry, ids IDs) []Entry {
	var out []Entry
	for _, e := range a {
		if !ids[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// normalize sorts entries by ID and keeps the first entry of each object.
func normalize(entries []Entry) []Entry {
	seen := make(map[object.ObjMetadata]bool, len(entries))
	out := entries[:0:0]
	for _, e := range entries {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.String() < out[j].ID.String() })
	return out
}

// Same reports whether a and b record the same version and objects (the
// revision aside, so a commit that leaves a product alone writes nothing);
// nil is the absent inventory.
func Same(a, b *Inventory) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Product != b.Product || a.Version != b.Version || a.Fingerprint != b.Fingerprint || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

// Fingerprint is a digest of rendered objects: equal fingerprints mean equal
// renders, so an unchanged product need not be dry-run again.
func Fingerprint(objs []*unstructured.Unstructured) (string, error) {
	h := sha256.New()
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return "", fmt.Errorf("fingerprinting %s: %w", o.GetName(), err)
		}
		h.Write(data)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
