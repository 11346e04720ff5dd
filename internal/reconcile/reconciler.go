package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/policy"
	"github.com/syncd-dev/syncd/internal/render"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/verify"
)

// Config configures a Reconciler.
type Config struct {
	// Site is the site reconciled.
	Site string
	// Namespace is syncd's own namespace, where inventories live.
	Namespace string
	// HealthTimeout bounds the wait for applied products to become healthy;
	// zero checks health once without waiting.
	HealthTimeout time.Duration
	// Progress receives one human-readable line per step; nil for none.
	Progress io.Writer
	// Log receives structured logs; nil for none.
	Log hclog.Logger
	// Now is the clock of change control; nil for time.Now.
	Now func() time.Time
	// Images verifies the images of products that have a signing policy;
	// without it such products are blocked.
	Images ImageVerifier
	// MaxPrunePercent is the share of the site's objects one sync may
	// delete (0: prune.DefaultMaxPercent) unless the plan allows a mass prune.
	MaxPrunePercent int
	// Discovery lists the kinds the API server serves, to see what a
	// Namespace holds before deleting it; without it no Namespace is pruned.
	Discovery discovery.ServerResourcesInterface
	// Events, when set, records the Events (client-go's record.EventRecorder
	// of a long-running daemon: similar Events are aggregated, so a git_wins
	// fight does not flood); nil creates each Event directly, as a one-shot
	// sync does.
	Events EventRecorder
	// Renders, when set, is the render cache to start from (one a previous
	// process saved); nil starts empty.
	Renders *render.Cache
}

// EventRecorder records Kubernetes Events (record.EventRecorder).
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// Reconciler applies Plans to the cluster of one site.
type Reconciler struct {
	cfg        Config
	progressMu sync.Mutex
	applier    *apply.Applier
	inventory  *inventory.Store
	conflicts  *conflict.Store
	client     client.Client
	reader     client.Reader
	mapper     meta.RESTMapper

	keyMu sync.Mutex
	key   []byte // the site's value key (valueKey), once loaded

	holds holdBacks // products the last syncs held back, for SyncObject

	// renders keeps the renders of the last plan, so that a new revision
	// runs kustomize only for the releases it changed.
	renders *render.Cache
}

// New returns a Reconciler for cfg.Site talking to the cluster through c.
func New(c client.Client, mapper meta.RESTMapper, cfg Config) *Reconciler {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	renders := cfg.Renders
	if renders == nil {
		renders = render.NewCache()
	}
	return &Reconciler{
		cfg:       cfg,
		applier:   apply.New(c, mapper, cfg.Site),
		inventory: inventory.NewStore(c, cfg.Namespace, cfg.Site),
		conflicts: conflict.NewStore(c, cfg.Namespace),
		client:    c,
		reader:    c,
		mapper:    mapper,
		renders:   renders,
	}
}

// Result is the outcome of one product in a sync.
type Result struct {
	Product, Version string
	// Created, Configured, Unchanged and Pruned count objects.
	Created, Configured, Unchanged, Pruned int
	// Orphaned counts objects that left the render but carry
	// syncd.dev/prune: disabled: left in place and no longer managed.
	Orphaned int
	// PruneHeld says why objects that left the render were kept for now (a
	// Namespace that still holds objects syncd did not apply).
	PruneHeld []string
	// Drift counts objects created or configured although the render is the
	// one syncd last applied: changes made outside Git, undone.
	Drift int
	// Forced, Yielded and Held count conflicted fields by what syncd did:
	// applied Git's value, kept the live value, or kept it and opened a
	// Conflict for an admin.
	Forced, Yielded, Held int
	// Health is the product's health after the sync.
	Health health.State
	// Note says why a product was skipped, held back or not deployed.
	Note string
	// Waiting, when set, is the change change control held back; the sync
	// put back what was applied last instead.
	Waiting *Waiting
	// Err is why the product failed.
	Err error
}

// Report is the outcome of a sync.
type Report struct {
	Site, Revision string
	Results        []Result
	// Policy is the outcome of the fleet's policy gates at the site: its
	// violations and compliance score.
	Policy *policy.Result
	// PruneRefused, when set, says why the sync deleted nothing (SPEC §2.2:
	// it would have deleted too large a share of the site's objects).
	PruneRefused error
}

// Err joins the errors of every failed product and a refused prune.
func (r *Report) Err() error {
	var errs []error
	if r.PruneRefused != nil {
		errs = append(errs, r.PruneRefused)
	}
	for _, res := range r.Results {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", res.Product, res.Err))
		}
	}
	return errors.Join(errs...)
}

// Sync applies plan: products level by level in dependency order (the
// products of one level concurrently), each with its inventory written before
// it is applied, then prunes objects that left the render, and waits for
// health. A product whose render and live objects are exactly as syncd left
// them is not applied again. Blocked products are left as they are live.
func (r *Reconciler) Sync(ctx context.Context, plan *Plan) (*Report, error) {
	a, err := r.Apply(ctx, plan)
	if a == nil || err != nil {
		return a.report(), err
	}
	return a.WaitHealth(ctx), ctx.Err()
}

// Applied is a sync whose objects are applied and pruned, its health not
// waited for yet (Sync is Apply then WaitHealth). Between the two, nothing
// of the sync writes to the cluster: a caller may serve other work (single
// objects, a newer revision) while the health wait runs.
type Applied struct {
	r     *Reconciler
	plan  *Plan
	rep   *Report
	kinds map[schema.GroupVersionKind]bool
	live  liveIndex
}

// Report is the sync's report as applied: health as found right after the
// apply, notes not final until WaitHealth.
func (a *Applied) Report() *Report { return a.rep }

// report is a's report; nil for a nil a.
func (a *Applied) report() *Report {
	if a == nil {
		return nil
	}
	return a.rep
}

// WaitHealth waits for the health of the products in place, until each is
// final, the health timeout passes or ctx ends (the health then stays as last
// read), and returns the sync's report.
func (a *Applied) WaitHealth(ctx context.Context) *Report {
	hctx, span := tracing.Start(ctx, "health", tracing.Site.String(a.plan.Site), tracing.Revision.String(a.plan.Revision))
	a.r.waitHealth(hctx, a.plan, a.rep, a.kinds, a.live)
	tracing.End(span, ctx.Err())
	for i, pp := range a.plan.Products {
		a.rep.Results[i].Note = joinNotes(pp.VersionNote, a.rep.Results[i].Note)
	}
	return a.rep
}

// Apply applies and prunes plan as Sync does, without waiting for health.
// The Applied carries the report whenever the sync got as far as applying
// (also with an error recording what was applied).
func (r *Reconciler) Apply(ctx context.Context, plan *Plan) (*Applied, error) {
	log := tracing.Log(ctx, r.cfg.Log).With("site", plan.Site, "revision", plan.Revision)
	r.holds.start(plan.Revision)
	vctx, span := tracing.Start(ctx, "verify", tracing.Site.String(plan.Site), tracing.Revision.String(plan.Revision))
	plan = r.verifyImages(vctx, plan, true)
	tracing.End(span, verifyErrors(plan))
	invs, known, kinds, live, err := r.readState(ctx, plan)
	if err != nil {
		return nil, err
	}
	// An object that moves from one product to another is in the old one's
	// inventory and the new one's render: it must never be pruned.
	desired := plan.desired()
	prunes := r.planPrune(plan, invs, live, desired)
	rep := &Report{Site: plan.Site, Revision: plan.Revision, Results: make([]Result, len(plan.Products)), Policy: plan.Policy, PruneRefused: prunes.refused}
	r.progressf("site %s at %s: %d product(s)", plan.Site, short(plan.Revision), len(plan.Products))
	r.reportWarnings(plan.Policy)
	if prunes.refused != nil {
		r.progressf("%v", prunes.refused)
		log.Error("mass prune refused", "error", prunes.refused)
	}
	planned := map[string]bool{}
	applied := make([]*inventory.Inventory, len(plan.Products))
	var failed sync.Map
	for i, pp := range plan.Products {
		planned[pp.Name] = true
		rep.Results[i] = Result{Product: pp.Name, Version: pp.Version, Health: health.Unknown}
	}
	for stage, level := range levels(plan.Products) {
		sctx, stageSpan := tracing.Start(ctx, "stage", tracing.Site.String(plan.Site), tracing.Stage.Int(stage))
		g, gctx := errgroup.WithContext(sctx)
		g.SetLimit(productConcurrency)
		var stageErrs []error
		var errMu sync.Mutex
		for _, i := range level {
			pp := plan.Products[i]
			step := fmt.Sprintf("[%d/%d]", i+1, len(plan.Products))
			g.Go(func() error {
				pctx, span := tracing.Start(gctx, "product", tracing.Site.String(plan.Site), tracing.Product.String(pp.Name),
					tracing.Version.String(pp.Version), tracing.Stage.Int(stage))
				res, inv := r.syncProduct(pctx, log, plan, pp, invs[pp.Name], live, known, desired, prunes, &failed, step)
				if res.Note != "" {
					span.SetAttributes(attribute.String("syncd.note", res.Note))
				}
				tracing.End(span, res.Err)
				if res.Err != nil {
					failed.Store(pp.Name, true)
					errMu.Lock()
					stageErrs = append(stageErrs, fmt.Errorf("%s: %w", pp.Name, res.Err))
					errMu.Unlock()
				}
				rep.Results[i], applied[i] = res, inv
				return nil
			})
		}
		_ = g.Wait()
		tracing.End(stageSpan, errors.Join(stageErrs...))
	}
	rep.Results = append(rep.Results, r.pruneRemoved(ctx, log, prunes, invs, planned, desired)...)
	after, err := r.recordApplied(ctx, plan, applied, kinds, live)
	if err != nil {
		return &Applied{r: r, plan: plan, rep: rep}, err
	}
	if after == nil {
		// Nothing was applied: the objects are as read at the start.
		after = live
	}
	return &Applied{r: r, plan: plan, rep: rep, kinds: kinds, live: after}, nil
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// productConcurrency bounds how many products of one dependency level are
// applied at once; each applies its own objects with applyConcurrency.
const productConcurrency = 8

// syncProduct applies one product and prunes what left its render. It
// returns the inventory to record once the live resource versions are known,
// or nil when there is nothing to record.
func (r *Reconciler) syncProduct(ctx context.Context, log hclog.Logger, plan *Plan, pp *ProductPlan, old *inventory.Inventory, live liveIndex, known map[string]*conflict.Conflict, desired inventory.IDs, prunes *pruneRun, failed *sync.Map, step string) (Result, *inventory.Inventory) {
	res, inv := r.syncProductOrKeep(ctx, log, plan, pp, old, live, known, desired, prunes, failed, step)
	if w := pp.Waiting; w != nil && res.Err == nil {
		res.Waiting, res.Note = w, w.String()
		if inv != nil {
			// What was applied last came from its own revision.
			inv.Revision = old.Revision
		}
	}
	return res, inv
}

// syncProductOrKeep is syncProduct before change control is reported.
func (r *Reconciler) syncProductOrKeep(ctx context.Context, log hclog.Logger, plan *Plan, pp *ProductPlan, old *inventory.Inventory, live liveIndex, known map[string]*conflict.Conflict, desired inventory.IDs, prunes *pruneRun, failed *sync.Map, step string) (Result, *inventory.Inventory) {
	res := Result{Product: pp.Name, Version: pp.Version, Health: health.Unknown}
	log = log.With("product", pp.Name, "version", pp.Version)
	switch {
	case pp.Waiting != nil && pp.Objects == nil:
		r.progressf("%s %s: left as it is: %s", step, pp.Name, pp.Waiting)
		log.Info("change held back", "reason", pp.Waiting.Hold.Reason, "until", pp.Waiting.Hold.Until)
		if pp.Version == "" {
			failed.Store(pp.Name, true) // not installed: dependents must wait too
		}
		return res, nil
	case pp.Err != nil:
		res.Err = pp.Err
		r.progressf("%s %s: not applied, nothing pruned: %v", step, pp.Name, pp.Err)
		log.Error("product blocked", "error", pp.Err)
		return res, nil
	case pp.Held != "":
		res.Note = "held back: " + pp.Held
		r.progressf("%s %s %s: held back: %s", step, pp.Name, pp.Version, pp.Held)
		log.Warn("product held back", "reason", pp.Held)
		failed.Store(pp.Name, true)
		return res, nil
	}
	for _, dep := range pp.Dependencies {
		if _, ok := failed.Load(dep.Product); ok {
			res.Note = fmt.Sprintf("held back: dependency %s failed or is held back", dep.Product)
			r.progressf("%s %s %s: %s", step, pp.Name, pp.Version, res.Note)
			failed.Store(pp.Name, true)
			r.holds.hold(plan.Revision, pp.Name, res.Note)
			return res, nil
		}
	}
	var oldEntries []inventory.Entry
	if old != nil {
		oldEntries = old.Entries
	}
	if pp.NotDeployed != "" {
		res.Note = "not deployed: " + pp.NotDeployed
		r.progressf("%s %s: not deployed here (%s)", step, pp.Name, pp.NotDeployed)
		res.Err = r.pruneAll(ctx, log, prunes, old, inventory.Without(oldEntries, desired), &res)
		return res, nil
	}
	fingerprint, err := pp.fingerprint()
	if err != nil {
		res.Err = err
		return res, nil
	}
	dctx, span := tracing.Start(ctx, "diff", tracing.Product.String(pp.Name), tracing.Version.String(pp.Version))
	if unchangedSinceApplied(pp, fingerprint, old, live) && !pendingResolution(pp.Name, known) {
		res.Unchanged = len(pp.Objects)
		span.SetAttributes(attribute.Bool("syncd.unchanged", true))
		tracing.End(span, nil)
		return res, nil
	}
	objs, items, err := r.decideConflicts(dctx, pp, live, known)
	span.SetAttributes(attribute.Bool("syncd.unchanged", false), attribute.Int("syncd.conflicts", len(items)))
	tracing.End(span, err)
	if err != nil {
		res.Err = err
		return res, nil
	}
	cs, start, err := r.applyProduct(ctx, pp, oldEntries, old, objs, live, step)
	count(&res, cs)
	if err != nil {
		err = locateApplyError(err, pp, r.servedKind)
		res.Err = err
		r.progressf("%s %s %s: apply failed, nothing pruned: %v", step, pp.Name, pp.Version, err)
		log.Error("apply failed", "error", err)
		r.event(ctx, failedObject(err, pp.Objects), corev1.EventTypeWarning, "ApplyFailed", fmt.Sprintf("syncd could not apply %s %s: %v", pp.Name, pp.Version, err))
		return res, nil
	}
	if old != nil && old.Fingerprint == fingerprint {
		res.Drift = r.driftCorrected(ctx, log, pp.Objects, cs)
	}
	log.Info("applied", "created", res.Created, "configured", res.Configured, "unchanged", res.Unchanged, "duration", time.Since(start))
	for _, it := range items {
		switch it.Action {
		case conflict.Forced:
			res.Forced++
		case conflict.Yielded:
			res.Yielded++
		}
	}
	if res.Held, err = r.recordConflicts(ctx, log, pp, items, known, func(*conflict.Conflict) bool { return true }); err != nil {
		res.Err = err
		return res, nil
	}
	p, err := r.prune(ctx, log, prunes, pp.Name, inventory.Without(oldEntries, desired))
	res.addPruned(p)
	if res.Err = err; err != nil {
		return res, nil
	}
	r.progressf("%s %s %s: created %d, configured %d, unchanged %d, pruned %d",
		step, pp.Name, pp.Version, res.Created, res.Configured, res.Unchanged, res.Pruned)
	return res, &inventory.Inventory{Product: pp.Name, Version: pp.Version, Revision: plan.Revision, Fingerprint: fingerprint, Entries: inventory.Union(p.retained, inventory.EntriesOf(pp.Objects))}
}

// applyProduct records the inventory of what is about to be applied, then
// applies objs, in a span "apply"; start is when the apply began. Objects
// not in live are created without being read first when they are new.
func (r *Reconciler) applyProduct(ctx context.Context, pp *ProductPlan, oldEntries []inventory.Entry, old *inventory.Inventory, objs []*unstructured.Unstructured, live liveIndex, step string) (cs *ssa.ChangeSet, start time.Time, err error) {
	ctx, span := tracing.Start(ctx, "apply", tracing.Product.String(pp.Name), tracing.Version.String(pp.Version), attribute.Int("syncd.objects", len(objs)))
	defer func() {
		if cs != nil {
			span.SetAttributes(attribute.Int("syncd.changed", len(cs.Entries)))
		}
		tracing.End(span, err)
	}()
	newEntries := inventory.EntriesOf(pp.Objects)
	// Record what is about to be applied before applying it, so a crash
	// mid-apply leaves every object findable for the next prune.
	pending := &inventory.Inventory{Product: pp.Name, Entries: inventory.Union(oldEntries, newEntries)}
	if old != nil {
		pending.Version, pending.Revision = old.Version, old.Revision
	}
	start = time.Now()
	if !inventory.Same(pending, old) {
		if err := r.inventory.Save(ctx, pending); err != nil {
			return nil, start, err
		}
	}
	r.progressf("%s %s %s: applying %d object(s)", step, pp.Name, pp.Version, len(pp.Objects))
	start = time.Now()
	known := func(o *unstructured.Unstructured) bool { return live.get(object.UnstructuredToObjMetadata(o)) != nil }
	cs, err = r.applier.Apply(ctx, objs, apply.Options{ForceRecreate: pp.ForceRecreate, Known: known})
	return cs, start, err
}

// verifyErrors joins the verification failures of plan's products.
func verifyErrors(plan *Plan) error {
	var errs []error
	for _, pp := range plan.Products {
		var ve *verify.Error
		if errors.As(pp.Err, &ve) || errors.Is(pp.Err, errNoImageVerifier) {
			errs = append(errs, fmt.Errorf("%s: %w", pp.Name, pp.Err))
		}
	}
	return errors.Join(errs...)
}

// readState reads what a sync starts from: the products' inventories, the
// known conflicts and the live objects of every kind the plan renders, the
// three concurrently (each is an independent round trip to the API server);
// kinds that only an inventory still names (objects to prune) are listed once
// the inventories are in. kinds is every kind read.
func (r *Reconciler) readState(ctx context.Context, plan *Plan) (invs map[string]*inventory.Inventory, known map[string]*conflict.Conflict, kinds map[schema.GroupVersionKind]bool, live liveIndex, err error) {
	planKinds := kindsOf(plan, nil)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		invs, err = r.inventory.List(gctx)
		return err
	})
	g.Go(func() (err error) {
		known, err = r.knownConflicts(gctx)
		return err
	})
	g.Go(func() (err error) {
		live, err = readLive(gctx, r.reader, plan.Site, planKinds)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, nil, nil, nil, err
	}
	kinds = kindsOf(plan, invs)
	more := map[schema.GroupVersionKind]bool{}
	for gvk := range kinds {
		if !planKinds[gvk] {
			more[gvk] = true
		}
	}
	if len(more) > 0 {
		rest, err := readLive(ctx, r.reader, plan.Site, more)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		maps.Copy(live, rest)
	}
	return invs, known, kinds, live, nil
}

// knownConflicts returns the site's recorded conflicts by ID.
func (r *Reconciler) knownConflicts(ctx context.Context) (map[string]*conflict.Conflict, error) {
	list, err := r.conflicts.List(ctx, r.cfg.Site)
	if meta.IsNoMatchError(err) {
		// The Conflict CRD is not installed yet (a read-only diff on a new
		// cluster): no conflict has been recorded.
		return map[string]*conflict.Conflict{}, nil
	}
	if err != nil {
		return nil, err
	}
	known := make(map[string]*conflict.Conflict, len(list))
	for i := range list {
		known[list[i].Name] = &list[i]
	}
	return known, nil
}

// recordApplied saves the inventories of the products applied in this sync,
// with each object's resource version read back after the apply, and returns
// that fresh view of the live objects (nil when nothing was applied), in a
// span "record". before is the view read before the apply: when the applied
// products hold few objects, only theirs are read again.
func (r *Reconciler) recordApplied(ctx context.Context, plan *Plan, applied []*inventory.Inventory, kinds map[schema.GroupVersionKind]bool, before liveIndex) (_ liveIndex, err error) {
	if !slices.ContainsFunc(applied, func(inv *inventory.Inventory) bool { return inv != nil }) {
		return nil, nil
	}
	ctx, span := tracing.Start(ctx, "record", tracing.Site.String(plan.Site), tracing.Revision.String(plan.Revision))
	defer func() { tracing.End(span, err) }()
	live, err := rereadLive(ctx, r.reader, plan.Site, kinds, before, applied)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(productConcurrency)
	for _, inv := range applied {
		if inv == nil {
			continue
		}
		inv.Entries = withResourceVersions(inv.Entries, live)
		g.Go(func() error { return r.inventory.Save(gctx, inv) })
	}
	return live, g.Wait()
}

// waitHealth computes the health of the products that are in place, first
// from live (a current view of the objects), then from one LIST per kind
// each round, until every one is final or the timeout passes.
func (r *Reconciler) waitHealth(ctx context.Context, plan *Plan, rep *Report, kinds map[schema.GroupVersionKind]bool, live liveIndex) {
	var pending []int
	for i, pp := range plan.Products {
		if res := rep.Results[i]; res.Err == nil && (res.Note == "" || res.Waiting != nil) && pp.Objects != nil {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return
	}
	if r.cfg.HealthTimeout > 0 {
		r.progressf("waiting up to %s for %d product(s) to become healthy", r.cfg.HealthTimeout, len(pending))
	}
	deadline := time.Now().Add(r.cfg.HealthTimeout)
	for round := 0; ; round++ {
		if round > 0 {
			var err error
			if live, err = readLive(ctx, r.reader, plan.Site, kinds); err != nil {
				for _, i := range pending {
					rep.Results[i].Err = err
				}
				return
			}
		}
		var next []int
		for _, i := range pending {
			hr := health.Of(plan.Products[i].Objects, live.get, plan.Products[i].HealthChecks...)
			res := &rep.Results[i]
			res.Health = hr.State
			switch {
			case res.Waiting != nil:
				res.Note = res.Waiting.String()
			case hr.State != health.Healthy && len(hr.Reasons) > 0:
				res.Note = hr.Reasons[0]
			default:
				res.Note = ""
			}
			if !hr.State.Final() {
				next = append(next, i)
			}
		}
		pending = next
		if len(pending) == 0 || !time.Now().Add(healthInterval).Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(healthInterval):
		}
	}
	for _, i := range pending {
		r.progressf("%s %s: still %s after %s", rep.Results[i].Product, rep.Results[i].Version, rep.Results[i].Health, r.cfg.HealthTimeout)
	}
}

// healthInterval is how often health is re-read while waiting.
const healthInterval = 500 * time.Millisecond

// Diff reports what Sync would change, without changing anything.
func (r *Reconciler) Diff(ctx context.Context, plan *Plan) ([]diff.Change, error) {
	plan = r.verifyImages(ctx, plan, false)
	invs, known, _, live, err := r.readState(ctx, plan)
	if err != nil {
		return nil, err
	}
	desired := plan.desired()
	var changes []diff.Change
	var errs []error
	planned := map[string]bool{}
	for _, pp := range plan.Products {
		planned[pp.Name] = true
		if pp.Blocked() {
			if pp.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", pp.Name, pp.Err))
			}
			continue
		}
		var oldEntries []inventory.Entry
		if inv := invs[pp.Name]; inv != nil {
			oldEntries = inv.Entries
		}
		if pp.NotDeployed != "" {
			changes = append(changes, diff.Prunes(pp.Name, prunable(inventory.Without(oldEntries, desired), live))...)
			continue
		}
		objs, items, err := r.decideConflicts(ctx, pp, live, known)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pp.Name, err))
			continue
		}
		changes = append(changes, conflictChanges(pp.Name, items)...)
		cs, err := diff.Objects(ctx, r.applier.ResourceManager(), pp.Name, objs)
		changes = append(changes, cs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pp.Name, err))
			continue
		}
		changes = append(changes, diff.Prunes(pp.Name, prunable(inventory.Without(oldEntries, desired), live))...)
	}
	for _, name := range slices.Sorted(maps.Keys(invs)) {
		if !planned[name] {
			changes = append(changes, diff.Prunes(name, prunable(inventory.Without(invs[name].Entries, desired), live))...)
		}
	}
	return changes, errors.Join(errs...)
}

func count(res *Result, cs *ssa.ChangeSet) {
	if cs == nil {
		return
	}
	for _, e := range cs.Entries {
		switch e.Action {
		case ssa.CreatedAction:
			res.Created++
		case ssa.ConfiguredAction:
			res.Configured++
		case ssa.UnchangedAction, ssa.SkippedAction:
			res.Unchanged++
		}
	}
}

func (r *Reconciler) progressf(format string, args ...any) {
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	if rev == "" {
		return "working tree"
	}
	return rev
}
