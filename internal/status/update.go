package status

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/reconcile"
)

// Update returns the status after the sync that produced rep, finished at
// now, given the status before it (nil for none) and the open manual
// conflicts per product. It does not modify prev.
//
// Each product of rep gets its version, health, counts and note from its
// result, and keeps Since and Transitions from prev: a health different from
// prev's is recorded as a transition at now (the MaxTransitions most recent
// are kept) and restarts Since. A product the sync left untouched — nothing
// applied, nothing pruned, health not computed, as when it is held back or
// blocked or its apply failed before changing anything — keeps its previous
// version, health and object count, since its live objects did not change;
// its note says why. Products missing from rep are dropped. LastError is the
// first line of rep.Err(), or empty when every product succeeded.
func Update(prev *SiteStatus, rep *reconcile.Report, openConflicts map[string]int, now time.Time) *SiteStatus {
	now = normalize(now)
	st := &SiteStatus{Site: rep.Site, Revision: rep.Revision, UpdatedAt: now, LastError: lastError(rep), Compliance: NewCompliance(rep.Policy)}
	before := map[string]*ProductStatus{}
	if prev != nil {
		for i := range prev.Products {
			before[prev.Products[i].Name] = &prev.Products[i]
		}
	}
	for _, res := range rep.Results {
		st.Products = append(st.Products, product(before[res.Product], res, openConflicts[res.Product], now))
	}
	slices.SortFunc(st.Products, func(a, b ProductStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}

// Failed returns the status after a sync that failed before producing a
// report (the fleet repo unreachable, the site not rendering): prev's
// revision and products, with err as LastError. site names the site when
// prev is nil. It does not modify prev.
func Failed(prev *SiteStatus, site string, err error, now time.Time) *SiteStatus {
	st := &SiteStatus{Site: site}
	if prev != nil {
		st = prev.clone()
	}
	st.UpdatedAt = normalize(now)
	st.LastError = ""
	if err != nil {
		st.LastError = firstLine(err.Error())
	}
	return st
}

// product is the status of res's product after the sync; prev is its status
// before (nil for a new product).
func product(prev *ProductStatus, res reconcile.Result, conflicts int, now time.Time) ProductStatus {
	p := ProductStatus{
		Name:      res.Product,
		Version:   res.Version,
		Health:    res.Health,
		Objects:   res.Created + res.Configured + res.Unchanged,
		Drift:     res.Drift,
		Conflicts: conflicts,
		Yielded:   res.Yielded,
		Note:      res.Note,
	}
	if p.Note == "" && res.Err != nil {
		p.Note = firstLine(res.Err.Error())
	}
	if prev != nil && untouched(res) {
		p.Version, p.Health, p.Objects = prev.Version, prev.Health, prev.Objects
	}
	if p.Health == "" {
		p.Health = health.Unknown
	}
	if prev == nil {
		p.Since, p.VersionSince = now, now
		p.Intervals = []Interval{{Health: p.Health, From: now}}
		return p
	}
	p.Since, p.VersionSince = prev.Since, prev.VersionSince
	p.Transitions = slices.Clone(prev.Transitions)
	if p.Health != prev.Health {
		p.Since = now
		p.Transitions = append(p.Transitions, Transition{From: prev.Health, To: p.Health, At: now})
	}
	if n := len(p.Transitions); n > MaxTransitions {
		p.Transitions = slices.Clone(p.Transitions[n-MaxTransitions:])
	}
	if p.Version != prev.Version || p.VersionSince.IsZero() {
		p.VersionSince = now
		p.Intervals = []Interval{{Health: p.Health, From: now}}
	} else {
		p.Intervals, p.Earlier = addInterval(prev.intervals(), prev.Earlier, p.Health, now)
	}
	if p.Since.IsZero() {
		p.Since = now
	}
	return p
}

// intervals are p's health intervals; a status written before intervals
// existed starts them at its current health, from Since (or VersionSince
// when later): what it knew of earlier time is not accounted.
func (p *ProductStatus) intervals() []Interval {
	if len(p.Intervals) > 0 || p.Earlier != nil {
		return p.Intervals
	}
	from := p.Since
	if from.IsZero() || p.VersionSince.After(from) {
		from = p.VersionSince
	}
	return []Interval{{Health: p.Health, From: from}}
}

// addInterval returns intervals (with the tally earlier) after the product
// was seen with health h at: a new interval when h differs from the last
// one's, then the oldest intervals beyond MaxIntervals folded into the
// tally. It modifies neither argument.
func addInterval(intervals []Interval, earlier *Tally, h health.State, at time.Time) ([]Interval, *Tally) {
	out := slices.Clone(intervals)
	if n := len(out); n == 0 || out[n-1].Health != h {
		out = append(out, Interval{Health: h, From: at})
	}
	if len(out) <= MaxIntervals {
		return out, cloneTally(earlier)
	}
	t := Tally{}
	if earlier != nil {
		t = *earlier
	}
	for len(out) > MaxIntervals {
		secs := int64(out[1].From.Sub(out[0].From) / time.Second)
		switch out[0].Health {
		case health.Healthy:
			t.HealthySeconds += max(secs, 0)
		case health.Error:
			t.ErrorSeconds += max(secs, 0)
		}
		t.Until = out[1].From
		out = out[1:]
	}
	return slices.Clone(out), &t
}

func cloneTally(t *Tally) *Tally {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// untouched reports whether the sync changed nothing of res's product at the
// site and did not compute its health.
func untouched(res reconcile.Result) bool {
	return res.Created+res.Configured+res.Unchanged+res.Pruned == 0 &&
		(res.Health == "" || res.Health == health.Unknown)
}

// lastError is the first line of what failed in rep, with how many other
// products failed.
func lastError(rep *reconcile.Report) string {
	err := rep.Err()
	if err == nil {
		return ""
	}
	failed := 0
	for _, res := range rep.Results {
		if res.Err != nil {
			failed++
		}
	}
	msg := firstLine(err.Error())
	if failed > 1 {
		msg += fmt.Sprintf(" (and %d more failed products)", failed-1)
	}
	return msg
}

// clone returns a copy of st that shares nothing mutable with it.
func (st *SiteStatus) clone() *SiteStatus {
	c := *st
	c.Products = slices.Clone(st.Products)
	for i := range c.Products {
		c.Products[i].Transitions = slices.Clone(c.Products[i].Transitions)
		c.Products[i].Intervals = slices.Clone(c.Products[i].Intervals)
		c.Products[i].Earlier = cloneTally(c.Products[i].Earlier)
	}
	return &c
}

// normalize is t in UTC at second precision, as status times are kept.
func normalize(t time.Time) time.Time {
	return t.UTC().Truncate(time.Second)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
