package reconcile

import (
	"context"
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/object"
	"go.opentelemetry.io/otel/attribute"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/render"
	"github.com/syncd-dev/syncd/internal/tracing"
)

// liveIndex is the site's live objects, read with one label-selected LIST
// per kind instead of one GET per object.
type liveIndex map[object.ObjMetadata]*unstructured.Unstructured

// get returns the live object of id, or nil.
func (l liveIndex) get(id object.ObjMetadata) *unstructured.Unstructured { return l[id] }

// readLive lists every object of the given kinds that carries the site's
// label, in a span "live".
func readLive(ctx context.Context, c client.Reader, site string, kinds map[schema.GroupVersionKind]bool) (live liveIndex, err error) {
	ctx, span := tracing.Start(ctx, "live", tracing.Site.String(site), attribute.Int("syncd.kinds", len(kinds)))
	defer func() {
		span.SetAttributes(attribute.Int("syncd.objects", len(live)))
		tracing.End(span, err)
	}()
	return ReadLive(ctx, c, site, kinds)
}

// ReadLive lists every object of the given kinds that carries the site's
// label, straight from c (with the API server: a consistent read, not a cache
// that may lag behind the events that asked for it), indexed by identity.
// Kinds the API server does not serve (yet, or any more) have no objects.
func ReadLive(ctx context.Context, c client.Reader, site string, kinds map[schema.GroupVersionKind]bool) (map[object.ObjMetadata]*unstructured.Unstructured, error) {
	idx := map[object.ObjMetadata]*unstructured.Unstructured{}
	for gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := c.List(ctx, list, client.MatchingLabels{render.LabelSite: site})
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			// Not served (any more): a CRD not applied yet, or pruned by
			// this very sync while the RESTMapper still knows its kinds.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s of site %s: %w", gvk.Kind, site, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			idx[object.UnstructuredToObjMetadata(o)] = o
		}
	}
	return idx, nil
}

// kindsOf collects the kinds of the plan's objects and of the inventories.
func kindsOf(plan *Plan, invs map[string]*inventory.Inventory) map[schema.GroupVersionKind]bool {
	kinds := map[schema.GroupVersionKind]bool{}
	for _, pp := range plan.Products {
		for _, o := range pp.Objects {
			kinds[o.GroupVersionKind()] = true
		}
	}
	for _, inv := range invs {
		for _, e := range inv.Entries {
			kinds[e.Object().GroupVersionKind()] = true
		}
	}
	return kinds
}

// unchangedSinceApplied reports whether a product can skip its apply: the
// render is the one last applied and every object is live at the resource
// version syncd recorded after applying it, so nobody changed it since.
func unchangedSinceApplied(pp *ProductPlan, fingerprint string, inv *inventory.Inventory, live liveIndex) bool {
	if inv == nil || inv.Fingerprint == "" || inv.Fingerprint != fingerprint || inv.Version != pp.Version || len(inv.Entries) != len(pp.Objects) {
		return false
	}
	for _, e := range inv.Entries {
		o := live[e.ID]
		if o == nil || e.ResourceVersion == "" || o.GetResourceVersion() != e.ResourceVersion {
			return false
		}
	}
	return true
}

// withResourceVersions returns entries carrying the live resource versions.
func withResourceVersions(entries []inventory.Entry, live liveIndex) []inventory.Entry {
	out := make([]inventory.Entry, len(entries))
	for i, e := range entries {
		e.ResourceVersion = ""
		if o := live[e.ID]; o != nil {
			e.ResourceVersion = o.GetResourceVersion()
		}
		out[i] = e
	}
	return out
}
