package reconcile

import "sync"

// holdBacks remembers which products a Sync held back while it ran because
// a dependency failed to apply, so that object syncs answered from a plan of
// the same revision leave them alone too: an out-of-band edit must not get
// the new version of a held product applied (issue 13, item 5). The last two
// revisions are kept, for object syncs still answered from the plan before.
type holdBacks struct {
	mu        sync.Mutex
	cur, prev revisionHolds
}

// revisionHolds are the hold-backs of the last Sync of one revision.
type revisionHolds struct {
	revision string
	products map[string]string // why, by product
}

// start begins a Sync of revision: its earlier hold-backs are forgotten.
func (h *holdBacks) start(revision string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur.products != nil && h.cur.revision != revision {
		h.prev = h.cur
	}
	h.cur = revisionHolds{revision: revision, products: map[string]string{}}
}

// hold records that the Sync of revision held product back.
func (h *holdBacks) hold(revision, product, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur.revision == revision && h.cur.products != nil {
		h.cur.products[product] = why
	}
}

// reason says why the last Sync of revision held product back, or "".
func (h *holdBacks) reason(revision, product string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, rh := range []revisionHolds{h.cur, h.prev} {
		if rh.products != nil && rh.revision == revision {
			return rh.products[product]
		}
	}
	return ""
}
