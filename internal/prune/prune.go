// Package prune decides which objects that left a site's render syncd may
// delete (SPEC §2.2): never one annotated syncd.dev/prune: disabled, never a
// Namespace that still holds objects syncd did not apply, nothing at all when
// a sync would delete more than a set share of the site's objects (unless the
// head commit allows it), and objects already gone are not counted.
//
// The decisions are pure functions; Contents reads what a Namespace holds.
package prune

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

const (
	// AllowMassPruneTrailer is the commit trailer that lets a sync delete
	// more than the share of objects the guard allows.
	AllowMassPruneTrailer = "Syncd-Allow-Mass-Prune"
	// DefaultMaxPercent is the share of a site's objects one sync may delete
	// without the trailer.
	DefaultMaxPercent = 50
)

// Candidate is an object that left the render: its inventory entry and its
// live state (nil when it is gone already).
type Candidate struct {
	Entry inventory.Entry
	Live  *unstructured.Unstructured
}

// Sorted is what becomes of a product's candidates.
type Sorted struct {
	// Delete are live objects syncd may delete.
	Delete []Candidate
	// Orphaned carry syncd.dev/prune: disabled: left in place and dropped
	// from the inventory.
	Orphaned []inventory.Entry
	// Gone are already deleted (phantoms): dropped, neither counted nor
	// reported as pruned.
	Gone []inventory.Entry
}

// Sort splits candidates into those to delete, orphaned and gone.
func Sort(cands []Candidate) Sorted {
	var s Sorted
	for _, c := range cands {
		switch {
		case c.Live == nil:
			s.Gone = append(s.Gone, c.Entry)
		case IsDisabled(c.Live):
			s.Orphaned = append(s.Orphaned, c.Entry)
		default:
			s.Delete = append(s.Delete, c)
		}
	}
	return s
}

// IsDisabled reports whether obj is annotated syncd.dev/prune: disabled.
func IsDisabled(obj *unstructured.Unstructured) bool {
	return obj.GetAnnotations()[wellknown.AnnotationPrune] == wellknown.PruneDisabled
}

// Guard refuses a sync that would delete more than maxPercent of the site's
// total live objects, unless allowed (the head commit's trailer). maxPercent
// 0 means DefaultMaxPercent; 100 or more allows everything.
func Guard(deletes, total, maxPercent int, allowed bool) error {
	if maxPercent <= 0 {
		maxPercent = DefaultMaxPercent
	}
	if allowed || deletes == 0 || deletes*100 <= total*maxPercent {
		return nil
	}
	pct := 100
	if total > 0 {
		pct = deletes * 100 / total
	}
	return fmt.Errorf("nothing pruned: this sync would delete %d of the site's %d objects (%d%%), more than --max-prune-percent %d%%; "+
		"if that is intended, commit with the trailer `%s: true` or raise --max-prune-percent", deletes, total, pct, maxPercent, AllowMassPruneTrailer)
}

// AllowsMassPrune reports whether a commit message carries the trailer
// `Syncd-Allow-Mass-Prune: true` in its last paragraph, as git
// interpret-trailers reads trailers (key case-insensitive).
func AllowsMassPrune(message string) bool {
	paragraphs := strings.Split(strings.TrimSpace(strings.ReplaceAll(message, "\r\n", "\n")), "\n\n")
	if len(paragraphs) < 2 {
		// A subject line alone carries no trailers.
		return false
	}
	sc := bufio.NewScanner(strings.NewReader(paragraphs[len(paragraphs)-1]))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(key), AllowMassPruneTrailer) && strings.EqualFold(strings.TrimSpace(value), "true") {
			return true
		}
	}
	return false
}

// IDs returns the identities of entries, for lookups.
func IDs(entries []inventory.Entry) map[object.ObjMetadata]bool {
	out := make(map[object.ObjMetadata]bool, len(entries))
	for _, e := range entries {
		out[e.ID] = true
	}
	return out
}
