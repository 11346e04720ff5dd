package status

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/reconcile"
)

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(15 * time.Minute)
)

func TestUpdate(t *testing.T) {
	web := func(mut func(*ProductStatus)) ProductStatus {
		p := ProductStatus{Name: "web", Version: "1.0.0", VersionSince: t0, Health: health.Healthy, Since: t0, Objects: 3,
			Intervals: []Interval{{Health: health.Healthy, From: t0}}}
		if mut != nil {
			mut(&p)
		}
		return p
	}
	prevWith := func(ps ...ProductStatus) *SiteStatus {
		return &SiteStatus{Site: "eu-1", Revision: "aaa", UpdatedAt: t0, LastError: "old failure", Products: ps}
	}
	manyTransitions := make([]Transition, MaxTransitions)
	for i := range manyTransitions {
		manyTransitions[i] = Transition{From: health.Progressing, To: health.Healthy, At: t0.Add(-time.Duration(MaxTransitions-i) * time.Hour)}
	}
	tests := []struct {
		name      string
		prev      *SiteStatus
		results   []reconcile.Result
		conflicts map[string]int
		want      []ProductStatus
		wantErr   string
	}{
		{
			name:    "first sync: since now, no transition",
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Created: 3, Health: health.Healthy}},
			want: []ProductStatus{{Name: "web", Version: "1.0.0", VersionSince: t1, Health: health.Healthy, Since: t1, Objects: 3,
				Intervals: []Interval{{Health: health.Healthy, From: t1}}}},
		},
		{
			name:    "same health keeps since and clears the last error",
			prev:    prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Unchanged: 3, Health: health.Healthy}},
			want:    []ProductStatus{web(nil)},
		},
		{
			name:    "health change is a transition and restarts since",
			prev:    prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Unchanged: 3, Health: health.Error}},
			want: []ProductStatus{web(func(p *ProductStatus) {
				p.Health, p.Since = health.Error, t1
				p.Transitions = []Transition{{From: health.Healthy, To: health.Error, At: t1}}
				p.Intervals = []Interval{{Health: health.Healthy, From: t0}, {Health: health.Error, From: t1}}
			})},
		},
		{
			name:    "transitions are bounded, oldest dropped",
			prev:    prevWith(web(func(p *ProductStatus) { p.Transitions = manyTransitions })),
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Unchanged: 3, Health: health.Progressing}},
			want: []ProductStatus{web(func(p *ProductStatus) {
				p.Health, p.Since = health.Progressing, t1
				p.Transitions = append(append([]Transition{}, manyTransitions[1:]...), Transition{From: health.Healthy, To: health.Progressing, At: t1})
				p.Intervals = []Interval{{Health: health.Healthy, From: t0}, {Health: health.Progressing, From: t1}}
			})},
		},
		{
			name: "new version restarts versionSince; drift, conflicts and yielded are counted",
			prev: prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "1.1.0", Created: 1, Configured: 2, Unchanged: 1,
				Drift: 2, Yielded: 1, Health: health.Healthy}},
			conflicts: map[string]int{"web": 2, "other": 5},
			want: []ProductStatus{web(func(p *ProductStatus) {
				p.Version, p.VersionSince, p.Objects, p.Drift, p.Conflicts, p.Yielded = "1.1.0", t1, 4, 2, 2, 1
				p.Intervals = []Interval{{Health: health.Healthy, From: t1}}
			})},
		},
		{
			name:    "a status from before intervals starts them at its health since Since",
			prev:    prevWith(web(func(p *ProductStatus) { p.Intervals, p.Health, p.Since = nil, health.Progressing, t0.Add(time.Minute) })),
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Unchanged: 3, Health: health.Healthy}},
			want: []ProductStatus{web(func(p *ProductStatus) {
				p.Since = t1
				p.Transitions = []Transition{{From: health.Progressing, To: health.Healthy, At: t1}}
				p.Intervals = []Interval{{Health: health.Progressing, From: t0.Add(time.Minute)}, {Health: health.Healthy, From: t1}}
			})},
		},
		{
			name:    "held back keeps the version and health in place",
			prev:    prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "2.0.0", Health: health.Unknown, Note: "held back: dependency db failed to apply"}},
			want:    []ProductStatus{web(func(p *ProductStatus) { p.Note = "held back: dependency db failed to apply" })},
		},
		{
			name:    "apply failing before any change keeps the product and sets the last error",
			prev:    prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "2.0.0", Health: health.Unknown, Err: errors.New("dry-run failed\nmore detail")}},
			want:    []ProductStatus{web(func(p *ProductStatus) { p.Note = "dry-run failed" })},
			wantErr: "web: dry-run failed",
		},
		{
			name: "errors of several products: the first and a count",
			results: []reconcile.Result{
				{Product: "a", Health: health.Unknown, Err: errors.New("boom")},
				{Product: "b", Health: health.Unknown, Err: errors.New("bang")},
				{Product: "c", Health: health.Unknown, Err: errors.New("bust")},
			},
			want: []ProductStatus{
				{Name: "a", Health: health.Unknown, Since: t1, VersionSince: t1, Note: "boom", Intervals: []Interval{{Health: health.Unknown, From: t1}}},
				{Name: "b", Health: health.Unknown, Since: t1, VersionSince: t1, Note: "bang", Intervals: []Interval{{Health: health.Unknown, From: t1}}},
				{Name: "c", Health: health.Unknown, Since: t1, VersionSince: t1, Note: "bust", Intervals: []Interval{{Health: health.Unknown, From: t1}}},
			},
			wantErr: "a: boom (and 2 more failed products)",
		},
		{
			name:    "not deployed any more: pruned, unknown",
			prev:    prevWith(web(nil)),
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Pruned: 3, Health: health.Unknown, Note: "not deployed: site excluded"}},
			want: []ProductStatus{web(func(p *ProductStatus) {
				p.Health, p.Since, p.Objects, p.Note = health.Unknown, t1, 0, "not deployed: site excluded"
				p.Transitions = []Transition{{From: health.Healthy, To: health.Unknown, At: t1}}
				p.Intervals = []Interval{{Health: health.Healthy, From: t0}, {Health: health.Unknown, From: t1}}
			})},
		},
		{
			name: "products gone from the report are dropped; the rest sorted by name",
			prev: prevWith(web(nil), ProductStatus{Name: "gone", Health: health.Healthy}),
			results: []reconcile.Result{
				{Product: "web", Version: "1.0.0", Unchanged: 3, Health: health.Healthy},
				{Product: "api", Version: "0.1.0", Created: 1, Health: health.Progressing},
			},
			want: []ProductStatus{
				{Name: "api", Version: "0.1.0", VersionSince: t1, Health: health.Progressing, Since: t1, Objects: 1,
					Intervals: []Interval{{Health: health.Progressing, From: t1}}},
				web(nil),
			},
		},
		{
			name:    "empty health is unknown",
			results: []reconcile.Result{{Product: "web", Version: "1.0.0", Created: 1}},
			want: []ProductStatus{{Name: "web", Version: "1.0.0", VersionSince: t1, Health: health.Unknown, Since: t1, Objects: 1,
				Intervals: []Interval{{Health: health.Unknown, From: t1}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before string
			if tt.prev != nil {
				before = fmt.Sprintf("%+v", *tt.prev)
			}
			rep := &reconcile.Report{Site: "eu-1", Revision: "bbb", Results: tt.results}
			got := Update(tt.prev, rep, tt.conflicts, t1.Add(300*time.Millisecond).In(time.FixedZone("CET", 3600)))
			if got.Site != "eu-1" || got.Revision != "bbb" || !got.UpdatedAt.Equal(t1) || got.UpdatedAt.Location() != time.UTC {
				t.Errorf("site %q revision %q updatedAt %v; want eu-1 bbb %v UTC", got.Site, got.Revision, got.UpdatedAt, t1)
			}
			if got.LastError != tt.wantErr {
				t.Errorf("LastError = %q, want %q", got.LastError, tt.wantErr)
			}
			if !reflect.DeepEqual(got.Products, tt.want) {
				t.Errorf("Products =\n%+v\nwant\n%+v", got.Products, tt.want)
			}
			if tt.prev != nil && fmt.Sprintf("%+v", *tt.prev) != before {
				t.Errorf("Update modified prev")
			}
		})
	}
}

func TestUpdateDoesNotShareTransitionsWithPrev(t *testing.T) {
	prev := &SiteStatus{Site: "eu-1", Products: []ProductStatus{{
		Name: "web", Health: health.Healthy, Since: t0,
		Transitions: make([]Transition, 1, 8), // room to append in place
	}}}
	rep := &reconcile.Report{Site: "eu-1", Results: []reconcile.Result{{Product: "web", Unchanged: 1, Health: health.Error}}}
	a := Update(prev, rep, nil, t1)
	rep.Results[0].Health = health.Progressing
	b := Update(prev, rep, nil, t1)
	if a.Products[0].Transitions[1].To != health.Error || b.Products[0].Transitions[1].To != health.Progressing {
		t.Fatalf("statuses share transitions: %+v / %+v", a.Products[0].Transitions, b.Products[0].Transitions)
	}
}

func TestFailed(t *testing.T) {
	prev := &SiteStatus{Site: "eu-1", Revision: "aaa", UpdatedAt: t0,
		Products: []ProductStatus{{Name: "web", Health: health.Healthy, Transitions: []Transition{{From: health.Progressing, To: health.Healthy, At: t0}}}}}
	got := Failed(prev, "ignored", fmt.Errorf("fetching: %w\ndetails", errors.New("cannot reach git.example.com:22")), t1)
	if got.Site != "eu-1" || got.Revision != "aaa" || !got.UpdatedAt.Equal(t1) || got.LastError != "fetching: cannot reach git.example.com:22" {
		t.Errorf("Failed = %+v", got)
	}
	if !reflect.DeepEqual(got.Products, prev.Products) {
		t.Errorf("products changed: %+v", got.Products)
	}
	got.Products[0].Transitions[0].To = health.Error
	if prev.Products[0].Transitions[0].To != health.Healthy || prev.UpdatedAt != t0 {
		t.Error("Failed shares state with prev")
	}
	if got := Failed(nil, "eu-2", errors.New("x"), t1); got.Site != "eu-2" || got.LastError != "x" || got.Products != nil {
		t.Errorf("Failed(nil) = %+v", got)
	}
	if got := Failed(prev, "eu-1", nil, t1); got.LastError != "" {
		t.Errorf("Failed(nil error) kept LastError %q", got.LastError)
	}
}

func TestOpenConflicts(t *testing.T) {
	mk := func(product string, state conflict.State) conflict.Conflict {
		return conflict.Conflict{Spec: conflict.Spec{Product: product}, Status: conflict.Status{State: state}}
	}
	got := OpenConflicts([]conflict.Conflict{
		mk("web", conflict.Open), mk("web", ""), mk("web", conflict.Resolved),
		mk("db", conflict.Superseded), mk("api", conflict.Open),
	})
	if want := map[string]int{"web": 2, "api": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenConflicts = %v, want %v", got, want)
	}
}

// TestIntervalsAreBoundedWithoutLosingTime flaps a product far beyond
// MaxIntervals and checks that its time on the version adds up exactly.
func TestIntervalsAreBoundedWithoutLosingTime(t *testing.T) {
	var st *SiteStatus
	now := t0
	var wantHealthy, wantError time.Duration
	states := []health.State{health.Healthy, health.Error, health.Progressing, health.Healthy} // two healthy in a row merge
	for i := range 300 {
		h := states[i%len(states)]
		rep := &reconcile.Report{Site: "eu-1", Results: []reconcile.Result{{Product: "web", Version: "1.0.0", Unchanged: 1, Health: h}}}
		st = Update(st, rep, nil, now)
		step := time.Duration(i%7+1) * time.Minute
		switch h {
		case health.Healthy:
			wantHealthy += step
		case health.Error:
			wantError += step
		}
		now = now.Add(step)
	}
	p := st.Products[0]
	if len(p.Intervals) != MaxIntervals || p.Earlier == nil || !p.Earlier.Until.Equal(p.Intervals[0].From) {
		t.Fatalf("%d intervals, earlier %+v; want %d and a tally up to the first", len(p.Intervals), p.Earlier, MaxIntervals)
	}
	for i := 1; i < len(p.Intervals); i++ {
		if p.Intervals[i].Health == p.Intervals[i-1].Health {
			t.Fatalf("intervals %d and %d have the same health %s", i-1, i, p.Intervals[i].Health)
		}
	}
	rp := NewReport(st).Products[0]
	got := rp.TimeOnVersion(now, now)
	want := TimeOnVersion{Total: now.Sub(t0), Healthy: wantHealthy, Error: wantError}
	if got != want {
		t.Fatalf("TimeOnVersion = %+v, want %+v", got, want)
	}
	// A new version starts over.
	rep := &reconcile.Report{Site: "eu-1", Results: []reconcile.Result{{Product: "web", Version: "1.1.0", Unchanged: 1, Health: health.Healthy}}}
	p = Update(st, rep, nil, now).Products[0]
	if p.Earlier != nil || !reflect.DeepEqual(p.Intervals, []Interval{{Health: health.Healthy, From: now}}) {
		t.Fatalf("after a new version: intervals %+v earlier %+v", p.Intervals, p.Earlier)
	}
}
