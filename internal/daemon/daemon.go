// Package daemon is `syncd run`: it polls the fleet repo, reconciles the site
// on every new commit (and periodically, as a safety net), and reacts within
// a second to out-of-band edits and deletes of the objects it manages and to
// admins resolving conflicts, through watches, without re-diffing the site.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/api/meta"
	kwait "k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/metrics"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/verify"
)

// Source is the fleet repo as the daemon uses it.
type Source interface {
	// Fetch brings the tracked branch up to date, cheaply when unchanged,
	// and returns its head commit.
	Fetch(ctx context.Context) (sha string, changed bool, err error)
	// Open returns the files of commit sha.
	Open(ctx context.Context, sha string) (fs.FS, error)
}

// Config configures a Daemon.
type Config struct {
	// Site is the site served; Namespace is syncd's own namespace.
	Site, Namespace string
	// Interval is how often the fleet repo is polled.
	Interval time.Duration
	// Resync forces a full reconcile this often even without new commits.
	Resync time.Duration
	// HealthTimeout bounds each sync's wait for health.
	HealthTimeout time.Duration
	// ConflictRetention is how long resolved and superseded conflicts are
	// kept for audit; zero keeps them forever.
	ConflictRetention time.Duration
	// Metrics receives the daemon's measurements; a private set when nil.
	Metrics *metrics.Metrics
	// Publisher, when set, publishes the status report to the fleet repo
	// (branch syncd/status/<site>) after each full reconcile.
	Publisher StatusPublisher
	// Log receives the daemon's logs.
	Log hclog.Logger
	// Now is the clock of change control (maintenance windows, freezes,
	// ramps); nil for time.Now.
	Now func() time.Time
	// Images verifies the images of products with a signing policy; without
	// it such products are blocked.
	Images reconcile.ImageVerifier
	// MaxPrunePercent is the share of the site's objects one sync may delete
	// without the head commit's `Syncd-Allow-Mass-Prune: true` (0: 50).
	MaxPrunePercent int
	// Discovery lets syncd see what a Namespace holds before pruning it;
	// without it no Namespace is pruned.
	Discovery discovery.ServerResourcesInterface
	// Tracer records one trace per full reconcile (tracing.New); nil
	// records nothing.
	Tracer trace.TracerProvider
}

// Daemon is one site's long-running reconciler.
type Daemon struct {
	cfg    Config
	src    Source
	client client.Client
	rec    *reconcile.Reconciler
	watch  *watcher
	events *eventRelay

	// mu makes full reconciles of the site, health wait and status push
	// included, and health checks one at a time.
	mu sync.Mutex
	// applyMu makes writes to the site one at a time: the apply and prune
	// of a full reconcile and single-object syncs, which so never wait for
	// a health wait or a status push. Lock order: mu, then applyMu.
	applyMu sync.Mutex
	// plan is what watch events are answered from; written with mu and
	// applyMu held, read with either.
	plan *reconcile.Plan
	rev  string
	// lastRep is the report of the sync of plan, with the health found by
	// later health checks; guarded by mu.
	lastRep *reconcile.Report

	trigger chan struct{}
	// published is signalled after each publish attempt of a full
	// reconcile, so the health worker reschedules its liveness refresh.
	published chan struct{}
	// fullAt is when the last successful full reconcile finished (d.mu).
	fullAt time.Time
	// publishFailed is set while the last publish attempt failed: the
	// report is then retried at the poll interval, not the refresh interval.
	publishFailed atomic.Bool
	// state is what /readyz reports: nil before the first reconcile ended.
	state atomic.Pointer[readiness]
	// standby is set while another replica holds the leader Lease.
	standby atomic.Bool
	// failing is set while the last full reconcile had failures, so the next
	// poll retries it even without a new commit; guarded by mu.
	failing bool
	// status is the site status last recorded; guarded by mu.
	status *status.SiteStatus
	// wake is when the earliest change held back by change control may go
	// ahead (zero: none); a full reconcile runs then. Guarded by mu.
	wake time.Time
	// traceParent is the span of the webhook that asked for the next
	// reconcile, which that reconcile's trace continues; nil for none.
	traceParent atomic.Pointer[trace.SpanContext]
}

// readiness is the outcome of the last full reconcile attempt.
type readiness struct {
	revision string
	err      error
	at       time.Time
}

// New returns a Daemon. c must know syncd's Conflict type (conflict.Scheme).
func New(c client.Client, dyn dynamic.Interface, mapper meta.RESTMapper, src Source, cfg Config) *Daemon {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 10 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(cfg.Site)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	events := &eventRelay{}
	if cfg.Publisher != nil {
		cfg.Metrics.ReportPublisher()
	}
	d := &Daemon{
		cfg:       cfg,
		events:    events,
		src:       src,
		client:    c,
		trigger:   make(chan struct{}, 1),
		published: make(chan struct{}, 1),
		rec: reconcile.New(c, mapper, reconcile.Config{
			Site: cfg.Site, Namespace: cfg.Namespace, HealthTimeout: cfg.HealthTimeout, Log: cfg.Log, Now: cfg.Now,
			Images:          cfg.Images,
			MaxPrunePercent: cfg.MaxPrunePercent, Discovery: cfg.Discovery,
			Events: events,
		}),
	}
	d.watch = newWatcher(dyn, mapper, cfg.Site, cfg.Namespace, cfg.Log.Named("watch"))
	return d
}

// SetStandby marks this replica as waiting for leadership: /readyz reports
// it ready (so rollouts of several replicas finish) and the webhook refuses.
func (d *Daemon) SetStandby(standby bool) { d.standby.Store(standby) }

// Trigger asks for a full reconcile now (a webhook, a test).
func (d *Daemon) Trigger() {
	select {
	case d.trigger <- struct{}{}:
	default:
	}
}

// pollJitter is the share of --interval by which each wait between polls
// is lengthened at random.
const pollJitter = 0.1

// Run reconciles until ctx ends, then returns nil once the current reconcile
// has stopped. A reconcile interrupted by the end of ctx is safe: inventories
// are written before applying, so the next start converges.
func (d *Daemon) Run(ctx context.Context) error {
	if err := conflict.NewStore(d.client, d.cfg.Namespace).Install(ctx); err != nil {
		return err
	}
	defer d.startEvents(ctx)()
	queue := newObjectQueue()
	d.watch.run(ctx, queue)
	var workers sync.WaitGroup
	workers.Go(func() { d.objectWorker(ctx, queue) })
	workers.Go(func() { d.healthWorker(ctx, d.watch.changed) })
	workers.Go(func() { <-ctx.Done(); queue.ShutDown() })
	// Return only once the object worker has stopped too.
	defer workers.Wait()

	backoff := newBackoff(time.Second, 5*time.Minute)
	for {
		// Up to pollJitter more than the interval, so that sites started
		// together (a fleet restarted at once) do not poll the Git server
		// in the same second for ever.
		wait := kwait.Jitter(d.cfg.Interval, pollJitter)
		wake := d.wakeTime()
		due := time.Since(d.lastFull()) >= d.cfg.Resync || (!wake.IsZero() && !d.cfg.Now().Before(wake))
		polled := time.Now()
		err := d.poll(ctx, due)
		if ctx.Err() == nil {
			d.setState(err)
		}
		switch {
		case ctx.Err() != nil:
			d.cfg.Log.Info("stopping")
			return nil
		case err != nil:
			wait = backoff.next()
			d.cfg.Log.Error("reconcile failed; the cluster is left as it is", "error", err, "retry_in", wait)
		default:
			backoff.reset()
			// Polls start every interval: the time a reconcile took
			// (its status report included) is not waited again, so a
			// commit pushed meanwhile is fetched at once.
			wait = max(wait-time.Since(polled), 0)
		}
		if wake := d.wakeTime(); !wake.IsZero() {
			// A held change may go ahead before the next poll.
			wait = min(wait, max(wake.Sub(d.cfg.Now()), 0))
		}
		select {
		case <-ctx.Done():
			d.cfg.Log.Info("stopping")
			return nil
		case <-d.trigger:
		case <-time.After(wait):
		}
	}
}

// wakeTime returns when a change held back may go ahead; zero for none.
func (d *Daemon) wakeTime() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wake
}

// earliestUntil is the earliest time a change held back in rep may go
// ahead; zero when none waits, or only for a commit (a freeze without end).
func earliestUntil(rep *reconcile.Report) time.Time {
	var t time.Time
	for _, r := range rep.Results {
		if r.Waiting == nil || r.Waiting.Hold.Until.IsZero() {
			continue
		}
		if u := r.Waiting.Hold.Until; t.IsZero() || u.Before(t) {
			t = u
		}
	}
	return t
}

// lastFull returns when the last successful full reconcile finished; zero
// before the first. A poll that finds nothing new does not count, so the
// resync runs every Resync whatever the poll interval.
func (d *Daemon) lastFull() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fullAt
}

// poll fetches and, on a new commit or when due, runs a full reconcile.
func (d *Daemon) poll(ctx context.Context, due bool) (err error) {
	parent := d.traceParent.Swap(nil)
	start := time.Now()
	sha, changed, err := d.src.Fetch(ctx)
	fetched := time.Now()
	d.cfg.Metrics.Fetched(fetched.Sub(start), err)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && !changed && !due && !d.failing && sha == d.rev && !d.commitsChanged() {
		return nil
	}
	// A reconcile follows: its trace starts with the fetch.
	ctx, span := d.startTrace(ctx, parent, sha, start, fetched, err)
	defer func() { tracing.End(span, err) }()
	if err != nil {
		err = fmt.Errorf("fetching the fleet repo: %w", err)
		d.recordStatus(ctx, nil, err)
		return err
	}
	err = d.syncLocked(ctx, sha)
	d.failing = err != nil
	return err
}

// startTrace starts the trace of a full reconcile of sha (a child of the
// webhook span parent when set), begun at start with the fetch that ended
// at fetched with fetchErr.
func (d *Daemon) startTrace(ctx context.Context, parent *trace.SpanContext, sha string, start, fetched time.Time, fetchErr error) (context.Context, trace.Span) {
	if parent != nil {
		ctx = trace.ContextWithSpanContext(ctx, *parent)
	}
	tracer := tracing.Tracer(d.cfg.Tracer)
	ctx, span := tracer.Start(ctx, "reconcile", trace.WithTimestamp(start),
		trace.WithAttributes(tracing.Site.String(d.cfg.Site), tracing.Revision.String(sha)))
	_, fetch := tracer.Start(ctx, "fetch", trace.WithTimestamp(start),
		trace.WithAttributes(tracing.Site.String(d.cfg.Site), tracing.Revision.String(sha)))
	tracing.SetResult(fetch, fetchErr)
	fetch.End(trace.WithTimestamp(fetched))
	return ctx, span
}

// syncLocked runs a full reconcile of sha; d.mu is held.
func (d *Daemon) syncLocked(ctx context.Context, sha string) error {
	start := time.Now()
	log := tracing.Log(ctx, d.cfg.Log)
	plan, err := d.planRevision(ctx, sha)
	if err != nil {
		d.recordStatus(ctx, nil, err)
		return err
	}
	d.setRefresh(plan) // before the report of this sync is published
	applied, err := d.applyPlan(ctx, plan, sha)
	var rep *reconcile.Report
	if applied != nil {
		rep = applied.Report()
		if err == nil {
			// Objects edited during the health wait are corrected: watch
			// the kinds of this plan before waiting.
			d.watch.ensure(ctx, plan)
			rep = d.waitHealth(ctx, applied, sha)
			err = ctx.Err()
		}
		d.wake = earliestUntil(rep)
		if !d.wake.IsZero() {
			log.Info("changes held back", "until", d.wake)
		}
	}
	d.recordStatus(ctx, rep, err)
	if rep != nil {
		d.cfg.Metrics.Reconciled("full", time.Since(start), countsOf(rep), errors.Join(err, rep.Err()))
		countVerifyFailures(d.cfg.Metrics, rep)
		d.lastRep = rep
	}
	if err != nil {
		return err
	}
	if d.cfg.ConflictRetention > 0 {
		n, err := conflict.NewStore(d.client, d.cfg.Namespace).Prune(ctx, d.cfg.ConflictRetention)
		if err != nil {
			d.cfg.Log.Warn("pruning old conflicts failed", "error", err)
		} else if n > 0 {
			d.cfg.Log.Info("pruned conflicts past retention", "count", n, "retention", d.cfg.ConflictRetention)
		}
	}
	d.fullAt = time.Now()
	log.Info("reconciled", "revision", sha, "products", len(rep.Results), "duration", time.Since(start).Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		return errors.Join(errors.New("some products failed"), err)
	}
	health := map[string]int{}
	for _, r := range rep.Results {
		health[string(r.Health)]++
	}
	d.cfg.Metrics.Succeeded(sha, time.Now(), health)
	return nil
}

// applyPlan applies and prunes plan (revision sha) with d.applyMu held, so
// that no single-object sync runs meanwhile. Once the sync got as far as
// applying, watch events are answered from plan, never from the one before
// (which could recreate objects just pruned).
func (d *Daemon) applyPlan(ctx context.Context, plan *reconcile.Plan, sha string) (*reconcile.Applied, error) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	applied, err := d.rec.Apply(ctx, plan)
	if applied != nil {
		d.plan, d.rev, d.lastRep = plan, sha, applied.Report()
	}
	return applied, err
}

// waitHealth waits for the health of the products applied, without holding
// up single-object syncs, and watches the fleet repo meanwhile (at the poll
// interval, or when triggered): a new revision cancels the wait, so that it
// is applied at once rather than after this one's health timeout. The report
// then carries the health last read.
func (d *Daemon) waitHealth(ctx context.Context, applied *reconcile.Applied, sha string) *reconcile.Report {
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.watchRevision(hctx, sha, cancel)
	}()
	rep := applied.WaitHealth(hctx)
	cancel()
	<-done
	return rep
}

// watchRevision fetches the fleet repo at the poll interval or when
// triggered until ctx ends; once the head is no longer sha it calls
// supersede and triggers a full reconcile.
func (d *Daemon) watchRevision(ctx context.Context, sha string, supersede context.CancelFunc) {
	for {
		triggered := false
		select {
		case <-ctx.Done():
			return
		case <-d.trigger:
			triggered = true
		case <-time.After(d.cfg.Interval):
		}
		start := time.Now()
		head, _, err := d.src.Fetch(ctx)
		if ctx.Err() != nil {
			if triggered {
				// The wait ended before this fetch could tell: the
				// trigger (a webhook) is left for the poll loop, not lost.
				d.Trigger()
			}
			return
		}
		d.cfg.Metrics.Fetched(time.Since(start), err)
		if err != nil {
			d.cfg.Log.Warn("fetching the fleet repo during the health wait failed", "error", err)
			continue
		}
		if head != sha {
			d.cfg.Log.Info("new revision: health wait cancelled", "revision", sha, "new_revision", head)
			supersede()
			d.Trigger()
			return
		}
	}
}

// planRevision reads revision sha and plans the site, in a span "plan"
// (the products' renders are its children).
func (d *Daemon) planRevision(ctx context.Context, sha string) (plan *reconcile.Plan, err error) {
	ctx, span := tracing.Start(ctx, "plan", tracing.Site.String(d.cfg.Site), tracing.Revision.String(sha))
	defer func() { tracing.End(span, err) }()
	fsys, err := d.src.Open(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("reading revision %s: %w", sha, err)
	}
	if c, ok := fsys.(io.Closer); ok {
		// The plan holds what it read: the snapshot's open files go.
		defer func() { _ = c.Close() }()
	}
	hist, _ := d.src.(reconcile.History) // nil: no change is ramped
	plan, err = d.rec.Plan(ctx, fsys, sha, hist)
	if plan != nil {
		span.SetAttributes(attribute.Int("syncd.products", len(plan.Products)))
	}
	return plan, err
}

// countVerifyFailures counts each image that failed verification in rep.
func countVerifyFailures(m *metrics.Metrics, rep *reconcile.Report) {
	for _, r := range rep.Results {
		var ve *verify.Error
		if errors.As(r.Err, &ve) {
			for _, f := range ve.Failures {
				m.VerifyFailed(r.Product, string(f.Reason))
			}
		}
	}
}

// countsOf sums a sync's per-product counts for the metrics.
func countsOf(rep *reconcile.Report) metrics.Counts {
	var c metrics.Counts
	for _, r := range rep.Results {
		c.Created += r.Created
		c.Configured += r.Configured
		c.Unchanged += r.Unchanged
		c.Pruned += r.Pruned
		c.Drift += r.Drift
		c.Forced += r.Forced
		c.Yielded += r.Yielded
		c.Held += r.Held
	}
	return c
}

// setState records the outcome of a full reconcile attempt for /readyz.
func (d *Daemon) setState(err error) {
	d.mu.Lock()
	rev := d.rev
	d.mu.Unlock()
	d.state.Store(&readiness{revision: rev, err: err, at: time.Now()})
}

// objectQueue holds the objects to reconcile one by one: an object queued
// again before its turn is reconciled once, and a failed one is retried with
// exponential backoff (client-go's controller rate limiter).
type objectQueue = workqueue.TypedRateLimitingInterface[object.ObjMetadata]

func newObjectQueue() objectQueue {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[object.ObjMetadata](),
		workqueue.TypedRateLimitingQueueConfig[object.ObjMetadata]{Name: "syncd-objects"})
}

// objectWorker reconciles single objects that changed out of band until the
// queue shuts down.
func (d *Daemon) objectWorker(ctx context.Context, q objectQueue) {
	for {
		id, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := d.syncObject(ctx, id); err != nil && ctx.Err() == nil {
			d.cfg.Log.Error("reconciling one object failed; retrying", "object", id.String(), "error", err, "retries", q.NumRequeues(id))
			q.AddRateLimited(id)
		} else {
			q.Forget(id)
		}
		q.Done(id)
	}
}

// syncObject brings one object back to what the current plan says, in a
// trace of its own: a span "object.sync" naming the object, its product and
// what was done (action "none" when the plan holds no such object to put
// back, or leaves it alone).
func (d *Daemon) syncObject(ctx context.Context, id object.ObjMetadata) (err error) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.plan == nil {
		return nil
	}
	start := time.Now()
	ctx, span := tracing.Tracer(d.cfg.Tracer).Start(ctx, "object.sync", trace.WithAttributes(
		tracing.Site.String(d.cfg.Site), tracing.Revision.String(d.rev), tracing.Trigger.String("watch"),
		tracing.ObjectGroup.String(id.GroupKind.Group), tracing.ObjectKind.String(id.GroupKind.Kind),
		tracing.ObjectNamespace.String(id.Namespace), tracing.ObjectName.String(id.Name)))
	res, err := d.rec.SyncObject(ctx, d.plan, id)
	span.SetAttributes(tracing.Product.String(res.Product), tracing.Action.String(cmp.Or(res.Action, "none")),
		attribute.Int("syncd.forced", res.Forced), attribute.Int("syncd.yielded", res.Yielded), attribute.Int("syncd.held", res.Held))
	tracing.End(span, err)
	if res.Product == "" && err == nil {
		return nil
	}
	c := metrics.Counts{Drift: res.Drift, Forced: res.Forced, Yielded: res.Yielded, Held: res.Held}
	switch res.Action {
	case "created":
		c.Created = 1
	case "configured":
		c.Configured = 1
	case "unchanged":
		c.Unchanged = 1
	}
	d.cfg.Metrics.Reconciled("object", time.Since(start), c, err)
	return err
}
