// Package wellknown defines, once, the names syncd writes into clusters: its
// server-side apply field manager, the labels on every object it renders, and
// the annotations people set to steer it.
package wellknown

// FieldManager is the server-side apply field manager syncd applies as (SPEC §3).
const FieldManager = "syncd"

// Labels syncd puts on every object it renders, and on its own records
// (inventories, conflicts, status).
const (
	LabelSite    = "syncd.dev/site"
	LabelProduct = "syncd.dev/product"
	LabelVersion = "syncd.dev/version"
)

// AnnotationPrune set to PruneDisabled on a live object keeps syncd from
// ever deleting it (SPEC §2.2).
const (
	AnnotationPrune = "syncd.dev/prune"
	PruneDisabled   = "disabled"
)
