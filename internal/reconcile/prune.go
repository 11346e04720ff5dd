package reconcile

import (
	"context"
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/prune"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

// pruneRun is what one sync decided about pruning before deleting anything.
type pruneRun struct {
	live liveIndex
	// refused, when set, says why this sync deletes nothing.
	refused error
	// going are the objects this sync may delete, across products: they do
	// not keep their Namespace from being deleted.
	going map[object.ObjMetadata]bool
}

// planPrune works out, before any deletion, every object the sync would
// delete (live, not annotated syncd.dev/prune: disabled) and applies the
// mass-prune guard to their share of the site's live objects.
func (r *Reconciler) planPrune(plan *Plan, invs map[string]*inventory.Inventory, live liveIndex, desired inventory.IDs) *pruneRun {
	run := &pruneRun{live: live, going: map[object.ObjMetadata]bool{}}
	planned := map[string]*ProductPlan{}
	for _, pp := range plan.Products {
		planned[pp.Name] = pp
	}
	siteObjects := map[object.ObjMetadata]bool{}
	for name, inv := range invs {
		for _, e := range inv.Entries {
			if live[e.ID] != nil {
				siteObjects[e.ID] = true
			}
		}
		if pp := planned[name]; pp != nil && pp.Blocked() {
			continue
		}
		for _, c := range prune.Sort(run.candidates(inventory.Without(inv.Entries, desired))).Delete {
			run.going[c.Entry.ID] = true
		}
	}
	run.refused = prune.Guard(len(run.going), len(siteObjects), r.cfg.MaxPrunePercent, plan.AllowMassPrune)
	return run
}

// candidates pairs stale entries with their live objects.
func (run *pruneRun) candidates(stale []inventory.Entry) []prune.Candidate {
	out := make([]prune.Candidate, len(stale))
	for i, e := range stale {
		out[i] = prune.Candidate{Entry: e, Live: run.live[e.ID]}
	}
	return out
}

// pruned is the outcome of pruning one product.
type pruned struct {
	// deleted counts objects deleted now; orphaned those left in place
	// because they carry syncd.dev/prune: disabled.
	deleted, orphaned int
	// retained stay in the inventory: a Namespace that still holds other
	// objects, or everything when the sync refused to prune.
	retained []inventory.Entry
	// notes say why objects were retained.
	notes []string
}

// prune deletes the stale objects of product that the safety rules allow.
func (r *Reconciler) prune(ctx context.Context, log hclog.Logger, run *pruneRun, product string, stale []inventory.Entry) (out pruned, err error) {
	if len(stale) == 0 {
		return out, nil
	}
	ctx, span := tracing.Start(ctx, "prune", tracing.Product.String(product), attribute.Int("syncd.stale", len(stale)))
	defer func() {
		span.SetAttributes(attribute.Int("syncd.pruned", out.deleted), attribute.Int("syncd.retained", len(out.retained)))
		tracing.End(span, err)
	}()
	if run.refused != nil {
		out.retained = stale
		return out, nil
	}
	sorted := prune.Sort(run.candidates(stale))
	for _, e := range sorted.Orphaned {
		out.orphaned++
		obj := run.live[e.ID]
		log.Warn("not pruned: annotated "+pruneAnnotation+", dropped from the inventory", "object", diff.Describe(obj))
		r.progressf("%s: %s left the render but is annotated %s: left in place, no longer managed (orphaned)", product, diff.Describe(obj), pruneAnnotation)
		r.event(ctx, obj, corev1.EventTypeNormal, "Orphaned", fmt.Sprintf("syncd left %s in place: it left the render of %s but is annotated %s", diff.Describe(obj), product, pruneAnnotation))
	}
	var del []inventory.Entry
	for _, c := range sorted.Delete {
		if c.Entry.ID.GroupKind != (schema.GroupKind{Kind: "Namespace"}) {
			del = append(del, c.Entry)
			continue
		}
		if note := r.namespaceBlockers(ctx, run, c.Entry.ID.Name); note != "" {
			out.retained = append(out.retained, c.Entry)
			out.notes = append(out.notes, note)
			log.Warn(note)
			r.progressf("%s: %s", product, note)
			r.event(ctx, c.Live, corev1.EventTypeWarning, "PruneHeld", note)
			continue
		}
		del = append(del, c.Entry)
	}
	res, err := r.applier.Prune(ctx, product, del)
	for _, e := range res.Deleted {
		out.deleted++
		r.event(ctx, run.live[e.ID], corev1.EventTypeNormal, "Pruned", fmt.Sprintf("syncd pruned %s: it left the render of %s", diff.Describe(run.live[e.ID]), product))
	}
	return out, err
}

// pruneAnnotation is how people write the annotation that disables pruning.
const pruneAnnotation = wellknown.AnnotationPrune + ": " + wellknown.PruneDisabled

// namespaceBlockers says why Namespace ns must not be deleted yet, or "".
func (r *Reconciler) namespaceBlockers(ctx context.Context, run *pruneRun, ns string) string {
	if r.cfg.Discovery == nil {
		return fmt.Sprintf("Namespace %s not pruned: syncd cannot tell what it holds (no discovery client)", ns)
	}
	contents, err := prune.Contents(ctx, r.cfg.Discovery, r.reader, ns)
	if err != nil {
		return fmt.Sprintf("Namespace %s not pruned: %v", ns, err)
	}
	if blockers := prune.Blockers(contents, func(id object.ObjMetadata) bool { return run.going[id] }); len(blockers) > 0 {
		return prune.Describe(ns, blockers)
	}
	return ""
}

// pruneRemoved prunes products that have an inventory but are no longer
// planned for the site: their product was deleted or no longer targets it.
func (r *Reconciler) pruneRemoved(ctx context.Context, log hclog.Logger, run *pruneRun, invs map[string]*inventory.Inventory, planned map[string]bool, desired inventory.IDs) []Result {
	var names []string
	for name := range invs {
		if !planned[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var results []Result
	for _, name := range names {
		res := Result{Product: name, Version: invs[name].Version, Health: health.Unknown, Note: "removed from site"}
		res.Err = r.pruneAll(ctx, log, run, invs[name], inventory.Without(invs[name].Entries, desired), &res)
		r.progressf("%s: removed from site, pruned %d object(s)", name, res.Pruned)
		log.Info("product removed from site", "product", name, "pruned", res.Pruned)
		results = append(results, res)
	}
	return results
}

// pruneAll prunes every stale object of a product that leaves the site (or
// is not deployed here) and drops its inventory, or keeps there what could
// not be pruned.
func (r *Reconciler) pruneAll(ctx context.Context, log hclog.Logger, run *pruneRun, old *inventory.Inventory, stale []inventory.Entry, res *Result) error {
	p, err := r.prune(ctx, log.With("product", res.Product), run, res.Product, stale)
	res.addPruned(p)
	if err != nil {
		return err
	}
	if len(p.retained) == 0 {
		return r.inventory.Delete(ctx, res.Product)
	}
	kept := &inventory.Inventory{Product: res.Product, Entries: p.retained}
	if old != nil {
		kept.Version, kept.Revision = old.Version, old.Revision
	}
	if inventory.Same(kept, old) {
		return nil
	}
	return r.inventory.Save(ctx, kept)
}

// addPruned records a prune's outcome in the product's result.
func (res *Result) addPruned(p pruned) {
	res.Pruned += p.deleted
	res.Orphaned += p.orphaned
	res.PruneHeld = append(res.PruneHeld, p.notes...)
}

// prunable keeps the stale entries a sync would delete: live, and not
// annotated syncd.dev/prune: disabled.
func prunable(stale []inventory.Entry, live liveIndex) []inventory.Entry {
	run := &pruneRun{live: live}
	sorted := prune.Sort(run.candidates(stale))
	out := make([]inventory.Entry, len(sorted.Delete))
	for i, c := range sorted.Delete {
		out[i] = c.Entry
	}
	return out
}
