package reconcile

import (
	"context"
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/object"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/diff"
)

// ObjectResult is the outcome of reconciling one object.
type ObjectResult struct {
	// Product owns the object; empty when the plan does not hold it.
	Product string
	// Action is "created", "configured" or "unchanged".
	Action string
	// Drift is 1 when the object was created or configured back to Git's state.
	Drift int
	// Forced, Yielded and Held count the object's conflicted fields.
	Forced, Yielded, Held int
}

// SyncObject brings one object of plan back to what Git says, with the
// conflict rules applied: the reaction to an out-of-band edit or delete,
// without re-diffing the site. Objects that plan does not hold, or that
// belong to a blocked product or to one the last Sync of plan's revision
// held back (a dependency failed), are left alone.
func (r *Reconciler) SyncObject(ctx context.Context, plan *Plan, id object.ObjMetadata) (ObjectResult, error) {
	// Only the object's product is verified (from the cache, normally): an
	// object is never put back with an image that is not verified and pinned.
	pp, desired := plan.find(id)
	if desired != nil && pp.SigningKeys != nil {
		pp, desired = r.verifyImages(ctx, &Plan{Products: []*ProductPlan{pp}}, false).find(id)
	}
	if desired == nil || pp.Blocked() || pp.NotDeployed != "" {
		return ObjectResult{}, nil
	}
	if why := r.holds.reason(plan.Revision, pp.Name); why != "" {
		r.cfg.Log.Debug("object left alone", "product", pp.Name, "object", diff.Describe(desired), "reason", why)
		return ObjectResult{}, nil
	}
	res := ObjectResult{Product: pp.Name}
	// The known conflicts and the live object are read concurrently: two
	// independent round trips on the path from an edit to its correction.
	var known map[string]*conflict.Conflict
	live := liveIndex{}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		known, err = r.knownConflicts(gctx)
		return err
	})
	g.Go(func() error {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(desired.GroupVersionKind())
		switch err := r.reader.Get(gctx, client.ObjectKeyFromObject(desired), cur); {
		case err == nil:
			live[id] = cur
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading %s: %w", diff.Describe(desired), err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return res, err
	}
	one := *pp
	one.Objects = []*unstructured.Unstructured{desired}
	objs, items, err := r.decideConflicts(ctx, &one, live, known)
	if err != nil {
		return res, err
	}
	cs, err := r.applier.Apply(ctx, objs, apply.Options{ForceRecreate: pp.ForceRecreate})
	if err != nil {
		return res, locateApplyError(err, &one, r.servedKind)
	}
	if len(cs.Entries) > 0 {
		res.Action = cs.Entries[0].Action.String()
	}
	log0 := r.cfg.Log.With("site", plan.Site, "product", pp.Name)
	res.Drift = r.driftCorrected(ctx, log0, []*unstructured.Unstructured{desired}, cs)
	for _, it := range items {
		switch it.Action {
		case conflict.Forced:
			res.Forced++
		case conflict.Yielded:
			res.Yielded++
		}
	}
	sameObject := func(c *conflict.Conflict) bool {
		o := c.Spec.Object
		return o.Kind == desired.GetKind() && o.Namespace == desired.GetNamespace() && o.Name == desired.GetName()
	}
	log := r.cfg.Log.With("site", plan.Site, "product", pp.Name, "object", diff.Describe(desired))
	res.Held, err = r.recordConflicts(ctx, log, pp, items, known, sameObject)
	if err != nil {
		return res, err
	}
	log.Info("object reconciled", "action", res.Action, "forced", res.Forced, "yielded", res.Yielded, "held", res.Held)
	return res, nil
}

// find returns the product and rendered object of id, or nil. When several
// products render id (all but its owner are blocked), an unblocked one wins.
func (p *Plan) find(id object.ObjMetadata) (*ProductPlan, *unstructured.Unstructured) {
	var firstPP *ProductPlan
	var firstObj *unstructured.Unstructured
	for _, pp := range p.Products {
		for _, o := range pp.Objects {
			if object.UnstructuredToObjMetadata(o) != id {
				continue
			}
			if !pp.Blocked() {
				return pp, o
			}
			if firstPP == nil {
				firstPP, firstObj = pp, o
			}
			break
		}
	}
	return firstPP, firstObj
}
