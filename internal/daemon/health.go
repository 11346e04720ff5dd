package daemon

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/status"
)

// Between full reconciles the daemon keeps the site's health current (SPEC
// §4): every watch event on the site's objects (status updates included)
// signals a health check; the signals of one settle window coalesce into one
// check, which reads the objects of the products in place (one LIST per
// kind) and, only when a product's health or note changed, records the new
// status and publishes the report. A change of health so reaches the status
// branch within settle (≤ 1s, or half the poll interval when shorter) plus
// one push, and checks run at most once per settle window however many
// events arrive.
//
// When nothing changes the report's liveness time is refreshed when the
// publisher says it is due (fleet.yaml spec.reports.refresh): one small push
// per refresh interval keeps an idle healthy site from looking stale.

// settle is how long health checks wait for more events after the first.
func (d *Daemon) settle() time.Duration {
	return max(min(d.cfg.Interval/2, time.Second), 10*time.Millisecond)
}

// healthWorker re-evaluates health when the site's objects change and
// refreshes the published report's liveness time, until ctx ends.
func (d *Daemon) healthWorker(ctx context.Context, changed <-chan struct{}) {
	for d.healthStep(ctx, changed) {
	}
}

// healthStep waits for a change or a due refresh and answers it; false once
// ctx ended.
func (d *Daemon) healthStep(ctx context.Context, changed <-chan struct{}) bool {
	var refresh <-chan time.Time
	if wait, ok := d.refreshWait(); ok {
		t := time.NewTimer(wait)
		defer t.Stop()
		refresh = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-changed:
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d.settle()):
		}
		// Events during the settle window are answered by this check.
		select {
		case <-changed:
		default:
		}
		d.recheckHealth(ctx, false)
	case <-refresh:
		d.recheckHealth(ctx, true)
	case <-d.published:
		// A report went out: its refresh is due later (or sooner, when the
		// fleet's spec.reports.refresh changed).
	}
	return true
}

// refreshWait is how long until the published report's liveness time is due
// for a refresh; ok is false when there is nothing to refresh (no publisher,
// or it gave up). After a failed publish it retries at the poll interval, so
// that a report the Git server could not take goes out once it is back;
// until a first report is published, it otherwise retries every refresh
// interval.
func (d *Daemon) refreshWait() (time.Duration, bool) {
	p, ok := d.cfg.Publisher.(refreshScheduler)
	if !ok {
		return 0, false
	}
	if p.Disabled() {
		return 0, false
	}
	wait := p.Refresh()
	if due, ok := p.RefreshDue(); ok {
		wait = max(time.Until(due), 0)
	}
	if d.publishFailed.Load() {
		wait = min(wait, d.cfg.Interval)
	}
	return wait, true
}

// refreshScheduler is a StatusPublisher that says when its report's liveness
// time is due (status.Publisher).
type refreshScheduler interface {
	RefreshDue() (time.Time, bool)
	Refresh() time.Duration
	Disabled() bool
}

// recheckHealth re-evaluates the health of the products the last full
// reconcile left in place and, when any changed, records and publishes the
// new status. With refresh, the report is published even when unchanged, so
// that its liveness time advances (the publisher pushes only when due).
func (d *Daemon) recheckHealth(ctx context.Context, refresh bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ctx.Err() != nil || d.status == nil {
		return
	}
	if d.plan != nil && d.lastRep != nil {
		rep, changes, err := d.reevaluate(ctx, d.plan, d.lastRep)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Log.Warn("re-evaluating health failed", "error", err)
			}
		} else if len(changes) > 0 {
			for _, c := range changes {
				d.cfg.Log.Info("health changed", c...)
			}
			d.lastRep = rep
			d.recordHealth(ctx, rep)
			return
		}
	}
	if !refresh || d.cfg.Publisher == nil {
		return
	}
	st := *d.status
	st.UpdatedAt = time.Now()
	published, err := d.cfg.Publisher.Publish(ctx, &st)
	d.publishFailed.Store(err != nil)
	if err != nil {
		d.cfg.Log.Warn("refreshing the status report failed", "branch", status.Branch(d.cfg.Site), "error", err)
	} else if published {
		d.cfg.Metrics.ReportPublished(time.Now())
		d.cfg.Log.Debug("status report refreshed", "branch", status.Branch(d.cfg.Site))
	}
}

// reevaluate returns rep with the health and notes of the products in place
// computed again from their live objects, and the changes as log key-value
// lists; rep itself is not modified.
func (d *Daemon) reevaluate(ctx context.Context, plan *reconcile.Plan, rep *reconcile.Report) (*reconcile.Report, [][]any, error) {
	var checked []int
	kinds := map[schema.GroupVersionKind]bool{}
	for i, pp := range plan.Products {
		if i >= len(rep.Results) || !inPlace(pp, rep.Results[i]) {
			continue
		}
		checked = append(checked, i)
		for _, o := range pp.Objects {
			kinds[o.GroupVersionKind()] = true
		}
	}
	if len(checked) == 0 {
		return rep, nil, nil
	}
	live, err := reconcile.ReadLive(ctx, d.client, plan.Site, kinds)
	if err != nil {
		return nil, nil, err
	}
	out := *rep
	out.Results = slices.Clone(rep.Results)
	var changes [][]any
	for _, i := range checked {
		pp, res := plan.Products[i], &out.Results[i]
		hr := health.Of(pp.Objects, func(id object.ObjMetadata) *unstructured.Unstructured { return live[id] }, pp.HealthChecks...)
		note := ""
		switch {
		case res.Waiting != nil:
			note = res.Waiting.String()
		case hr.State != health.Healthy && len(hr.Reasons) > 0:
			note = hr.Reasons[0]
		}
		note = joinNotes(pp.VersionNote, note)
		if hr.State == res.Health && note == res.Note {
			continue
		}
		changes = append(changes, []any{"product", pp.Name, "version", res.Version, "from", res.Health, "to", hr.State, "note", note})
		res.Health, res.Note = hr.State, note
	}
	return &out, changes, nil
}

// inPlace reports whether the full reconcile that produced res computed the
// health of pp: it applied (or found unchanged) pp's objects and nothing
// failed. Products held back, blocked or not deployed keep their status.
func inPlace(pp *reconcile.ProductPlan, res reconcile.Result) bool {
	return res.Err == nil && pp.Objects != nil && pp.NotDeployed == "" &&
		res.Product == pp.Name && res.Created+res.Configured+res.Unchanged > 0
}

// recordHealth records the status after a change of health found by a
// health check (rep: the last full reconcile's report with the new health),
// in the cluster and in the fleet repo. Revision and LastError stay as the
// last full reconcile left them.
func (d *Daemon) recordHealth(ctx context.Context, rep *reconcile.Report) {
	prev := d.status
	list, err := conflict.NewStore(d.client, d.cfg.Namespace).List(ctx, d.cfg.Site)
	if err != nil {
		d.cfg.Log.Warn("counting open conflicts failed", "error", err)
	}
	st := status.Update(prev, rep, status.OpenConflicts(list), time.Now())
	st.Revision, st.LastError = prev.Revision, prev.LastError
	d.status = st
	d.saveAndPublish(ctx, st)
}

// joinNotes joins the non-empty notes with "; ", as a full reconcile does.
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
