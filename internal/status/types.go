package status

import (
	"time"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/policy"
)

// MaxTransitions bounds the health transitions kept per product; older ones
// are dropped first.
const MaxTransitions = 10

// MaxIntervals bounds the health intervals kept per product; beyond it the
// oldest are folded into the product's Earlier tally, so no time on the
// version is lost however often the product flaps.
const MaxIntervals = 64

// SiteStatus is what syncd knows about one site after its last sync. Times
// are UTC with second precision.
type SiteStatus struct {
	// Site is the site's name.
	Site string `json:"site" yaml:"site"`
	// Revision is the fleet repo commit the last sync applied.
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
	// UpdatedAt is when the status was last computed.
	UpdatedAt time.Time `json:"updatedAt,omitzero" yaml:"updatedAt,omitempty"`
	// LastError is the first line of what failed in the last sync; empty
	// when it succeeded.
	LastError string `json:"lastError,omitempty" yaml:"lastError,omitempty"`
	// Products are the site's products, sorted by name.
	Products []ProductStatus `json:"products,omitempty" yaml:"products,omitempty"`
	// Compliance is the outcome of the fleet's policy gates at the last
	// sync; nil when the fleet has no policy.
	Compliance *Compliance `json:"compliance,omitempty" yaml:"compliance,omitempty"`
	// Commits is what commit verification decided; nil without
	// --verify-commits.
	Commits *Commits `json:"commits,omitempty" yaml:"commits,omitempty"`
}

// Compliance is how a site meets the fleet's policies (SPEC §7).
type Compliance struct {
	// Score is met / applicable × 100; nil when no policy applies here.
	Score *int `json:"score,omitempty" yaml:"score,omitempty"`
	// Applicable and Met count policies.
	Applicable int `json:"applicable" yaml:"applicable"`
	Met        int `json:"met" yaml:"met"`
	// Violations are the rendered objects that do not meet a policy.
	Violations []policy.Violation `json:"violations,omitempty" yaml:"violations,omitempty"`
}

// NewCompliance summarizes a policy evaluation; nil for nil.
func NewCompliance(res *policy.Result) *Compliance {
	if res == nil {
		return nil
	}
	c := &Compliance{Applicable: res.Applicable, Met: res.Met, Violations: res.Violations}
	if score, ok := res.Score(); ok {
		c.Score = &score
	}
	return c
}

// ProductStatus is the state of one product at a site.
type ProductStatus struct {
	// Name is the product's name.
	Name string `json:"name" yaml:"name"`
	// Version is the version in place at the site.
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// VersionSince is when the site started running Version: a canary's
	// soak starts there (SPEC §5).
	VersionSince time.Time `json:"versionSince,omitzero" yaml:"versionSince,omitempty"`
	// Health is the product's health after the last sync.
	Health health.State `json:"health" yaml:"health"`
	// Since is when Health last changed (or the product first appeared).
	Since time.Time `json:"since,omitzero" yaml:"since,omitempty"`
	// Transitions are the most recent health changes, oldest first, at most
	// MaxTransitions.
	Transitions []Transition `json:"transitions,omitempty" yaml:"transitions,omitempty"`
	// Intervals are the product's health since VersionSince, oldest first,
	// neighbours of equal health merged, at most MaxIntervals; they restart
	// when the version changes.
	Intervals []Interval `json:"intervals,omitempty" yaml:"intervals,omitempty"`
	// Earlier sums the time on the version folded out of Intervals.
	Earlier *Tally `json:"earlier,omitempty" yaml:"earlier,omitempty"`
	// Objects counts the product's objects at the site.
	Objects int `json:"objects" yaml:"objects"`
	// Drift counts the objects the last sync created or configured back to
	// Git's state after a change made outside Git.
	Drift int `json:"drift" yaml:"drift"`
	// Conflicts counts the product's open manual conflicts.
	Conflicts int `json:"conflicts" yaml:"conflicts"`
	// Yielded counts conflicted fields where the last sync kept the live
	// value (server_wins).
	Yielded int `json:"yielded" yaml:"yielded"`
	// Note says why the product was held back, not deployed or failed.
	Note string `json:"note,omitempty" yaml:"note,omitempty"`
}

// Transition is one change of a product's health.
type Transition struct {
	// From and To are the health before and after.
	From health.State `json:"from" yaml:"from"`
	To   health.State `json:"to" yaml:"to"`
	// At is when the sync that saw the change finished.
	At time.Time `json:"at" yaml:"at"`
}
