package daemon

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/tracing"
)

// refresher is a StatusPublisher whose liveness refresh interval follows
// the fleet repo (status.Publisher).
type refresher interface{ SetRefresh(time.Duration) }

// setRefresh passes the fleet's spec.reports.refresh of plan to the
// publisher.
func (d *Daemon) setRefresh(plan *reconcile.Plan) {
	if r, ok := d.cfg.Publisher.(refresher); ok && plan != nil {
		r.SetRefresh(plan.ReportRefresh)
	}
}

// StatusPublisher publishes the site's status report to the fleet repo.
type StatusPublisher interface {
	Publish(ctx context.Context, st *status.SiteStatus) (bool, error)
}

// recordStatus keeps the site's status in the cluster and, when a publisher
// is set, in the fleet repo, after a full reconcile (rep) or a failure that
// produced no report (err). Failures here are logged: status must not stop
// reconciling.
func (d *Daemon) recordStatus(ctx context.Context, rep *reconcile.Report, err error) {
	if ctx.Err() != nil {
		return
	}
	store := status.NewStore(d.client, d.cfg.Namespace, d.cfg.Site)
	if d.status == nil {
		prev, lerr := store.Load(ctx)
		if lerr != nil {
			d.cfg.Log.Warn("reading the site status failed", "error", lerr)
		}
		d.status = prev
	}
	now := time.Now()
	var st *status.SiteStatus
	if rep == nil {
		st = status.Failed(d.status, d.cfg.Site, err, now)
	} else {
		list, lerr := conflict.NewStore(d.client, d.cfg.Namespace).List(ctx, d.cfg.Site)
		if lerr != nil {
			d.cfg.Log.Warn("counting open conflicts failed", "error", lerr)
		}
		st = status.Update(d.status, rep, status.OpenConflicts(list), now)
	}
	if cc, ok := d.src.(commitChecker); ok {
		st.Commits = cc.Commits()
		d.cfg.Metrics.CommitsHeld(st.Commits.Held())
	}
	d.status = st
	d.saveAndPublish(ctx, st)
}

// saveAndPublish keeps st in the cluster and, when a publisher is set, in
// the fleet repo, in a span "status.publish"; failures are logged.
func (d *Daemon) saveAndPublish(ctx context.Context, st *status.SiteStatus) {
	ctx, span := tracing.Start(ctx, "status.publish", tracing.Site.String(d.cfg.Site), tracing.Revision.String(st.Revision))
	var perr error
	defer func() { tracing.End(span, perr) }()
	store := status.NewStore(d.client, d.cfg.Namespace, d.cfg.Site)
	if _, serr := store.Save(ctx, st); serr != nil {
		d.cfg.Log.Warn("saving the site status failed", "error", serr)
		perr = serr
	}
	if d.cfg.Publisher == nil {
		return
	}
	published, perr := d.cfg.Publisher.Publish(ctx, st)
	span.SetAttributes(attribute.Bool("syncd.published", published))
	d.publishFailed.Store(perr != nil)
	select {
	case d.published <- struct{}{}:
	default:
	}
	switch {
	case perr != nil:
		tracing.Log(ctx, d.cfg.Log).Warn("publishing the status report failed", "branch", status.Branch(d.cfg.Site), "error", perr)
	case published:
		d.cfg.Metrics.ReportPublished(time.Now())
		tracing.Log(ctx, d.cfg.Log).Info("status report published", "branch", status.Branch(d.cfg.Site))
	}
}

// commitsChanged reports whether commit verification decided something the
// recorded status does not say yet (a new head refused, or verified), so
// that it is recorded and published even when the applied revision stays.
// d.mu is held.
func (d *Daemon) commitsChanged() bool {
	cc, ok := d.src.(commitChecker)
	if !ok {
		return false
	}
	now := cc.Commits()
	if d.status == nil || d.status.Commits == nil || now == nil {
		return now != nil
	}
	return *now != *d.status.Commits
}
