package status

import (
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/health"
)

// Report format versions (SPEC §4). Readers accept every version up to
// ReportFormatVersion; a report without formatVersion is version 1, which
// carried only the last few health transitions.
const (
	// ReportFormatVersion is the version this syncd writes.
	ReportFormatVersion = 2
	// DefaultRefresh is how often a site refreshes its report's liveness
	// time when nothing else changes (fleet.yaml spec.reports.refresh).
	DefaultRefresh = fleet.DefaultReportRefresh
	// DefaultStaleAfter is how old a report's liveness time may be before
	// readers treat the site as unknown (spec.reports.staleAfter).
	DefaultStaleAfter = fleet.DefaultReportStaleAfter
)

// Interval is a period during which a product had one health. It lasts
// until the next interval's From; the last one lasts until the report's
// RefreshedAt (and, while the report is fresh, until now).
type Interval struct {
	// Health is the product's health during the interval.
	Health health.State `json:"health" yaml:"health"`
	// From is when the interval started.
	From time.Time `json:"from" yaml:"from"`
}

// Tally sums time on a version that a report no longer lists interval by
// interval: when a product's intervals outgrow their bound, the oldest are
// folded into it.
type Tally struct {
	// Until is where the folded time ends: the From of the first interval
	// still listed.
	Until time.Time `json:"until" yaml:"until"`
	// HealthySeconds and ErrorSeconds are the folded time HEALTHY and ERROR;
	// the rest of the folded time had no health signal.
	HealthySeconds int64 `json:"healthySeconds" yaml:"healthySeconds"`
	ErrorSeconds   int64 `json:"errorSeconds" yaml:"errorSeconds"`
}

// TimeOnVersion is how a product spent its time on its current version.
type TimeOnVersion struct {
	// Total is the time since the version arrived.
	Total time.Duration
	// Healthy and Error are the parts of Total known HEALTHY and ERROR;
	// PROGRESSING, UNKNOWN and time without a fresh report count as neither
	// (SPEC §5).
	Healthy, Error time.Duration
}

// HealthyShare is Healthy / Total, 0 when Total is 0.
func (t TimeOnVersion) HealthyShare() float64 { return share(t.Healthy, t.Total) }

// ErrorShare is Error / Total, 0 when Total is 0.
func (t TimeOnVersion) ErrorShare() float64 { return share(t.Error, t.Total) }

func share(part, total time.Duration) float64 {
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}

// TimeOnVersion accounts p's time on its version from VersionSince to now.
// Health is known up to known (the report's liveness time, or now when the
// report is fresh); after it, time counts as neither healthy nor error. A
// version-1 report, which has no intervals, is read from its transitions
// and current health: the time before the oldest transition it kept counts
// as neither.
func (p *ReportProduct) TimeOnVersion(known, now time.Time) TimeOnVersion {
	since := p.VersionSince
	if since.IsZero() || now.Before(since) {
		return TimeOnVersion{}
	}
	out := TimeOnVersion{Total: now.Sub(since)}
	if known.After(now) {
		known = now
	}
	intervals, tally := p.Intervals, p.Earlier
	if len(intervals) == 0 && tally == nil {
		intervals = p.intervalsFromTransitions()
	}
	if tally != nil {
		out.Healthy += time.Duration(tally.HealthySeconds) * time.Second
		out.Error += time.Duration(tally.ErrorSeconds) * time.Second
	}
	for i, iv := range intervals {
		end := known
		if i+1 < len(intervals) && intervals[i+1].From.Before(end) {
			end = intervals[i+1].From
		}
		start := iv.From
		if start.Before(since) {
			start = since
		}
		if !end.After(start) {
			continue
		}
		switch iv.Health {
		case health.Healthy:
			out.Healthy += end.Sub(start)
		case health.Error:
			out.Error += end.Sub(start)
		}
	}
	out.Healthy, out.Error = min(out.Healthy, out.Total), min(out.Error, out.Total)
	return out
}

// intervalsFromTransitions rebuilds intervals from a version-1 report: the
// health after each kept transition, and the current health since Since.
func (p *ReportProduct) intervalsFromTransitions() []Interval {
	var out []Interval
	for _, t := range p.Transitions {
		if !t.At.Before(p.Since) {
			break
		}
		out = append(out, Interval{Health: t.To, From: t.At})
	}
	if !p.Since.IsZero() {
		out = append(out, Interval{Health: p.Health, From: p.Since})
	}
	return out
}

// Stale reports whether r's liveness time is older than staleAfter at now
// (DefaultStaleAfter when staleAfter is 0). A report without a liveness
// time (version 1) is judged by nothing else and is never stale.
func (r *Report) Stale(now time.Time, staleAfter time.Duration) bool {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	return !r.RefreshedAt.IsZero() && now.Sub(r.RefreshedAt) > staleAfter
}

// Known is the time up to which r's health is known at now: now while the
// report is fresh, its liveness time once it is stale.
func (r *Report) Known(now time.Time, staleAfter time.Duration) time.Time {
	if r.Stale(now, staleAfter) {
		return r.RefreshedAt
	}
	return now
}
