package status

import (
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
)

func TestTimeOnVersion(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	m := func(n int) time.Duration { return time.Duration(n) * time.Minute }
	tests := []struct {
		name         string
		p            ReportProduct
		known, now   time.Time
		total        time.Duration
		healthy, err time.Duration
	}{
		{"healthy after a slow start", ReportProduct{VersionSince: at(0), Intervals: []Interval{
			{health.Progressing, at(0)}, {health.Healthy, at(10)}}},
			at(60), at(60), m(60), m(50), 0},
		{"flapping", ReportProduct{VersionSince: at(0), Intervals: []Interval{
			{health.Healthy, at(0)}, {health.Error, at(20)}, {health.Healthy, at(25)}, {health.Error, at(50)}}},
			at(60), at(60), m(60), m(45), m(15)},
		{"stale: nothing known after the liveness time", ReportProduct{VersionSince: at(0), Intervals: []Interval{
			{health.Healthy, at(0)}}},
			at(30), at(60), m(60), m(30), 0},
		{"intervals from before the version are clipped", ReportProduct{VersionSince: at(10), Intervals: []Interval{
			{health.Error, at(0)}, {health.Healthy, at(20)}}},
			at(60), at(60), m(50), m(40), m(10)},
		{"folded time counts", ReportProduct{VersionSince: at(0),
			Earlier:   &Tally{Until: at(30), HealthySeconds: 20 * 60, ErrorSeconds: 5 * 60},
			Intervals: []Interval{{health.Healthy, at(30)}}},
			at(60), at(60), m(60), m(50), m(5)},
		{"version 1: transitions and current health", ReportProduct{VersionSince: at(0), Health: health.Healthy, Since: at(40),
			Transitions: []Transition{{health.Unknown, health.Error, at(10)}, {health.Error, health.Healthy, at(40)}}},
			at(60), at(60), m(60), m(20), m(30)},
		{"no version yet", ReportProduct{}, at(60), at(60), 0, 0, 0},
	}
	for _, tt := range tests {
		got := tt.p.TimeOnVersion(tt.known, tt.now)
		if got.Total != tt.total || got.Healthy != tt.healthy || got.Error != tt.err {
			t.Errorf("%s: TimeOnVersion = %+v; want total %v healthy %v error %v", tt.name, got, tt.total, tt.healthy, tt.err)
		}
	}
	flap := TimeOnVersion{Total: m(60), Healthy: m(45), Error: m(15)}
	if flap.HealthyShare() != 0.75 || flap.ErrorShare() != 0.25 || (TimeOnVersion{}).HealthyShare() != 0 {
		t.Errorf("shares of %+v = %v, %v", flap, flap.HealthyShare(), flap.ErrorShare())
	}
}

func TestReportStale(t *testing.T) {
	r := &Report{RefreshedAt: t0}
	if r.Stale(t0.Add(DefaultStaleAfter), 0) || !r.Stale(t0.Add(DefaultStaleAfter+time.Second), 0) {
		t.Error("default staleness bound not applied")
	}
	if !r.Stale(t0.Add(2*time.Minute), time.Minute) || r.Known(t0.Add(2*time.Minute), time.Minute) != t0 {
		t.Error("a stale report's health is known only until its liveness time")
	}
	if (&Report{}).Stale(t0.Add(24*time.Hour), 0) {
		t.Error("a version-1 report without liveness time judged stale")
	}
}
