package dora

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the head's time in every case; events are given in hours before it.
var t0 = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

func ago(h float64) time.Time { return t0.Add(-time.Duration(h * float64(time.Hour))) }

// change is a change of web's channel ch from -> to, seq, h hours ago.
func change(seq int, ch, from, to string, h float64) Change {
	return Change{Seq: seq, Product: "web", Channel: ch, From: from, To: to, Time: ago(h), Commit: "c"}
}

func rollOff(c Change) Change { c.RollOff = true; return c }

func baseline(c Change) Change { c.Baseline = true; return c }

func promoted(c Change) Change { c.Promoted = true; return c }

func release(version string, h float64) Release {
	return Release{Product: "web", Version: version, Time: ago(h), Commit: "r"}
}

func recall(seq int, version string, h float64) Recall {
	return Recall{Seq: seq, Product: "web", Version: version, Time: ago(h), Commit: "x"}
}

// want is what a case checks of web's headline channel (prod).
type want struct {
	deployments int
	promotions  int
	perWeek     float64
	rollOffs    int
	lead        []time.Duration // count, median, p90 when not nil
	releases    int
	failed      []string
	restore     []time.Duration // count, median
}

func hours(h ...float64) []time.Duration {
	out := make([]time.Duration, len(h))
	for i, x := range h {
		out[i] = time.Duration(x * float64(time.Hour))
	}
	return out
}

func TestCompute(t *testing.T) {
	week := 7 * 24.0
	cases := []struct {
		name     string
		releases []Release
		changes  []Change
		recalls  []Recall
		window   time.Duration
		want     want
	}{{
		name:     "a release promoted through the channels: one deployment on prod, lead time from the release's commit",
		releases: []Release{release("1.0.0", 50)},
		changes: []Change{
			change(1, "dev", "", "1.0.0", 48), promoted(change(2, "staging", "", "1.0.0", 30)), promoted(change(3, "prod", "", "1.0.0", 20)),
		},
		window: Week,
		want:   want{deployments: 1, promotions: 1, perWeek: 1, lead: hours(1, 30, 30), releases: 1, failed: []string{}},
	}, {
		name:     "deployments before the window are not counted, nor their lead times",
		releases: []Release{release("1.0.0", 400), release("1.1.0", 300), release("1.2.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 399), change(2, "prod", "1.0.0", "1.1.0", week+1),
			change(3, "prod", "1.1.0", "1.2.0", 10),
		},
		window: Week,
		want:   want{deployments: 1, perWeek: 1, lead: hours(1, 90, 90), releases: 1, failed: []string{}},
	}, {
		name:     "lead times: nearest-rank median and p90 of the releases first deployed in the window",
		releases: []Release{release("1.0.0", 100), release("1.1.0", 100), release("1.2.0", 100), release("1.3.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 99), change(2, "prod", "1.0.0", "1.1.0", 98),
			change(3, "prod", "1.1.0", "1.2.0", 90), change(4, "prod", "1.2.0", "1.3.0", 60),
		},
		window: Week,
		want:   want{deployments: 4, perWeek: 4, lead: hours(4, 2, 40), releases: 4, failed: []string{}},
	}, {
		name:     "a release deployed again after a roll-back counts as a deployment, its lead time once",
		releases: []Release{release("1.0.0", 300), release("2.0.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 299), change(2, "prod", "1.0.0", "2.0.0", 90),
			change(3, "prod", "2.0.0", "1.0.0", 80), change(4, "prod", "1.0.0", "2.0.0", 70),
		},
		window: Week,
		want:   want{deployments: 3, perWeek: 3, lead: hours(1, 10, 10), releases: 2, failed: []string{}},
	}, {
		name:     "a lead time before the first deployment ever is not measured in a later window",
		releases: []Release{release("1.0.0", 300)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 299), change(2, "prod", "1.0.0", "", 250), change(3, "prod", "", "1.0.0", 10),
		},
		window: Week,
		want:   want{deployments: 1, perWeek: 1, lead: hours(), releases: 1, failed: []string{}},
	}, {
		name:     "a release recalled while on prod: a failure, restored at the recall; the roll-off is no deployment",
		releases: []Release{release("1.0.0", 300), release("1.1.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 299), change(2, "prod", "1.0.0", "1.1.0", 50),
			promoted(rollOff(change(3, "prod", "1.1.0", "1.0.0", 45))),
		},
		recalls: []Recall{recall(3, "1.1.0", 45)},
		window:  Week,
		want:    want{deployments: 1, perWeek: 1, rollOffs: 1, lead: hours(1, 50, 50), releases: 1, failed: []string{"1.1.0"}, restore: hours(1, 5)},
	}, {
		name:     "a recall with nothing to roll back to still restores (sites run no recalled release)",
		releases: []Release{release("1.0.0", 100)},
		changes:  []Change{change(1, "prod", "", "1.0.0", 99)},
		recalls:  []Recall{recall(2, "1.0.0", 90)},
		window:   Week,
		want:     want{deployments: 1, perWeek: 1, lead: hours(1, 1, 1), releases: 1, failed: []string{"1.0.0"}, restore: hours(1, 9)},
	}, {
		name:     "a release superseded on prod before its recall is a failure without a restore on prod",
		releases: []Release{release("1.0.0", 100), release("1.1.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 99), change(2, "prod", "1.0.0", "1.1.0", 98),
		},
		recalls: []Recall{recall(4, "1.0.0", 10)},
		window:  Week,
		want:    want{deployments: 2, perWeek: 2, lead: hours(2, 1, 2), releases: 2, failed: []string{"1.0.0"}, restore: hours()},
	}, {
		name:     "a release recalled before it reached prod is no failure of prod",
		releases: []Release{release("1.0.0", 100), release("1.1.0", 100)},
		changes: []Change{
			change(1, "prod", "", "1.0.0", 99), change(2, "staging", "", "1.1.0", 50),
			rollOff(change(3, "staging", "1.1.0", "1.0.0", 40)),
		},
		recalls: []Recall{recall(3, "1.1.0", 40)},
		window:  Week,
		want:    want{deployments: 1, perWeek: 1, lead: hours(1, 1, 1), releases: 1, failed: []string{}, restore: hours()},
	}, {
		name:     "a release recalled, un-recalled and deployed is no failure",
		releases: []Release{release("1.0.0", 100)},
		changes:  []Change{change(2, "prod", "", "1.0.0", 10)},
		recalls:  []Recall{recall(1, "1.0.0", 50)},
		window:   Week,
		want:     want{deployments: 1, perWeek: 1, lead: hours(1, 90, 90), releases: 1, failed: []string{}, restore: hours()},
	}, {
		name:     "a version on a channel without a release directory has no lead time; a release added after its deployment counts 0",
		releases: []Release{release("1.1.0", 5)},
		changes:  []Change{change(1, "prod", "", "1.0.0", 20), change(2, "prod", "1.0.0", "1.1.0", 10)},
		window:   2 * Week,
		want:     want{deployments: 2, perWeek: 1, lead: hours(1, 0, 0), releases: 2, failed: []string{}},
	}, {
		name:     "the baseline's versions are no deployments, nor is a version's return its first arrival",
		releases: []Release{release("1.0.0", 500), release("1.1.0", 60)},
		changes: []Change{
			baseline(change(0, "prod", "", "1.0.0", 100)), change(1, "prod", "1.0.0", "1.1.0", 50),
			change(2, "prod", "1.1.0", "1.0.0", 40),
		},
		window: Week,
		want:   want{deployments: 2, perWeek: 2, lead: hours(1, 10, 10), releases: 2, failed: []string{}},
	}, {
		name:     "a recall of a baseline version: a roll-off, but neither a failure of the window nor a restore",
		releases: []Release{release("1.0.0", 500)},
		changes:  []Change{baseline(change(0, "prod", "", "1.0.0", 100)), rollOff(change(1, "prod", "1.0.0", "", 50))},
		recalls:  []Recall{recall(1, "1.0.0", 50)},
		window:   Week,
		want:     want{rollOffs: 1, failed: []string{}},
	}, {
		name:    "the window's start is excluded, its end included",
		changes: []Change{change(1, "prod", "", "1.0.0", 24), change(2, "prod", "1.0.0", "1.1.0", 0)},
		window:  Day,
		want:    want{deployments: 1, perWeek: 7, releases: 1, failed: []string{}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := History{Head: "head", HeadTime: t0, Channels: []string{"dev", "staging", "prod"}, Products: []string{"web"},
				Releases: tc.releases, Changes: tc.changes, Recalls: tc.recalls}
			r, err := Compute(h, Options{Window: tc.window})
			if err != nil {
				t.Fatal(err)
			}
			if r.Channel != "prod" || !slices.Equal(r.Channels, []string{"dev", "staging", "prod"}) || len(r.Products) != 1 {
				t.Fatalf("report of channels %s %v, %d products", r.Channel, r.Channels, len(r.Products))
			}
			got := r.Products[0].Channels[2]
			check(t, got, tc.want)
			// One product: the fleet's metrics are the product's.
			check(t, r.Fleet.Channels[2], tc.want, "web ")
		})
	}
}

func check(t *testing.T, got Channel, w want, prefix ...string) {
	t.Helper()
	if got.Channel != "prod" || got.Deployments != w.deployments || got.DeploymentsPerWeek != w.perWeek || got.RollOffs != w.rollOffs ||
		got.Promotions != w.promotions {
		t.Errorf("%s: deployments %d (%.2f/week, %d promotions), roll-offs %d; want %d (%.2f/week, %d promotions), %d",
			got.Channel, got.Deployments, got.DeploymentsPerWeek, got.Promotions, got.RollOffs, w.deployments, w.perWeek, w.promotions, w.rollOffs)
	}
	checkDurations(t, "lead time", got.LeadTime, w.lead)
	checkDurations(t, "time to restore", got.TimeToRestore, w.restore)
	failed := make([]string, len(w.failed))
	for i, v := range w.failed {
		failed[i] = strings.Join(prefix, "") + v
	}
	f := got.ChangeFailure
	if f.Releases != w.releases || f.Failed != len(w.failed) || !slices.Equal(f.Recalled, failed) {
		t.Errorf("change failure %d of %d %v; want %d of %d %v", f.Failed, f.Releases, f.Recalled, len(failed), w.releases, failed)
	}
	switch {
	case w.releases == 0 && f.Rate != nil:
		t.Errorf("rate %v without releases", *f.Rate)
	case w.releases > 0 && (f.Rate == nil || *f.Rate != float64(int(float64(len(failed))/float64(w.releases)*1000+0.5))/1000):
		t.Errorf("rate %v, want %d/%d", f.Rate, len(failed), w.releases)
	}
}

// checkDurations compares d with want: nil or empty means nothing measured,
// else {count (in hours' place), median, p90}.
func checkDurations(t *testing.T, what string, d Durations, want []time.Duration) {
	t.Helper()
	med, okMed := d.Median()
	p90, okP90 := d.P90()
	if len(want) == 0 {
		if d.Count != 0 || okMed || okP90 {
			t.Errorf("%s: %d measured (median %v), want none", what, d.Count, med)
		}
		return
	}
	count := int(want[0] / time.Hour)
	if d.Count != count || !okMed || med != want[1] || (len(want) > 2 && (!okP90 || p90 != want[2])) {
		t.Errorf("%s: %d, median %v, p90 %v; want %d, %v, %v", what, d.Count, med, p90, count, want[1], want[2:])
	}
}

func TestComputeFleetPoolsProducts(t *testing.T) {
	h := History{Head: "head", HeadTime: t0.In(time.FixedZone("CET", 3600)), Channels: []string{"dev", "prod"}, Products: []string{"web", "idle"},
		Releases: []Release{
			{Product: "web", Version: "1.0.0", Time: ago(30)},
			{Product: "api", Version: "2.0.0", Time: ago(30)},
			{Product: "api", Version: "2.1.0", Time: ago(30)},
		},
		Changes: []Change{
			{Seq: 1, Product: "web", Channel: "prod", To: "1.0.0", Time: ago(20)},
			{Seq: 1, Product: "api", Channel: "prod", To: "2.0.0", Time: ago(20)},
			{Seq: 2, Product: "api", Channel: "prod", From: "2.0.0", To: "2.1.0", Time: ago(10)},
			{Seq: 3, Product: "api", Channel: "qa", To: "2.1.0", Time: ago(5)},
			{Seq: 4, Product: "api", Channel: "prod", From: "2.1.0", To: "2.0.0", Time: ago(2), RollOff: true},
		},
		Recalls: []Recall{{Seq: 4, Product: "api", Version: "2.1.0", Time: ago(2)}},
	}
	r, err := Compute(h, Options{Window: Week})
	if err != nil {
		t.Fatal(err)
	}
	// Times in UTC, whatever the committer's zone.
	if r.Until != t0 || r.Since != t0.Add(-Week) {
		t.Errorf("window %v to %v, want %v to %v", r.Since, r.Until, t0.Add(-Week), t0)
	}
	var names []string
	for _, p := range r.Products {
		names = append(names, p.Product)
	}
	// Products at the head and those deployed in the window; channels of
	// fleet.yaml, then others changed in the window.
	if !slices.Equal(names, []string{"api", "idle", "web"}) || !slices.Equal(r.Channels, []string{"dev", "prod", "qa"}) {
		t.Fatalf("products %v, channels %v", names, r.Channels)
	}
	prod := r.Fleet.Channels[1]
	check(t, prod, want{deployments: 3, perWeek: 3, rollOffs: 1, lead: hours(3, 10, 20), releases: 3,
		failed: []string{"api 2.1.0"}, restore: hours(1, 8)})
	if idle := r.Products[1].Channels[1]; idle.Deployments != 0 || idle.ChangeFailure.Rate != nil || idle.LeadTime.MedianSeconds != nil {
		t.Errorf("idle product: %+v", idle)
	}
	if qa := r.Fleet.Channels[2]; qa.Channel != "qa" || qa.Deployments != 1 {
		t.Errorf("qa: %+v", qa)
	}
}

func TestComputeChannels(t *testing.T) {
	h := History{HeadTime: t0, Channels: []string{"dev", "prod"}}
	cases := []struct {
		name     string
		h        History
		opts     Options
		headline string
		err      string
	}{
		{"the last channel of fleet.yaml by default", h, Options{Window: Day}, "prod", ""},
		{"a channel named", h, Options{Window: Day, Channel: "dev"}, "dev", ""},
		{"an unknown channel", h, Options{Window: Day, Channel: "qa"}, "", `channel "qa"`},
		{"no channels in fleet.yaml", History{HeadTime: t0}, Options{Window: Day}, "", "declares no channels"},
		{"no window", h, Options{}, "", "positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compute(tc.h, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || r.Channel != tc.headline {
				t.Fatalf("headline %q, %v; want %q", r.Channel, err, tc.headline)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	cases := []struct {
		values    []time.Duration
		p50, p90  time.Duration
		p100, p01 time.Duration
	}{
		{[]time.Duration{5}, 5, 5, 5, 5},
		{[]time.Duration{1, 2}, 1, 2, 2, 1},
		{[]time.Duration{1, 2, 3}, 2, 3, 3, 1},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 9, 10, 1},
		{[]time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10, 11, 1},
	}
	for _, tc := range cases {
		for _, pc := range []struct {
			p    int
			want time.Duration
		}{{50, tc.p50}, {90, tc.p90}, {100, tc.p100}, {1, tc.p01}} {
			if got := Percentile(tc.values, pc.p); got != pc.want {
				t.Errorf("p%d of %v = %v, want %v", pc.p, tc.values, got, pc.want)
			}
		}
	}
}
