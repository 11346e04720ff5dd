package reconcile

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/object"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"
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
	var mu sync.Mutex
	// The kinds are listed concurrently: the API server's answer for one
	// is decoded while the next is served.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(liveConcurrency)
	for gvk := range kinds {
		g.Go(func() error {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			err := c.List(gctx, list, client.MatchingLabels{render.LabelSite: site})
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				// Not served (any more): a CRD not applied yet, or pruned by
				// this very sync while the RESTMapper still knows its kinds.
				return nil
			}
			if err != nil {
				return fmt.Errorf("listing %s of site %s: %w", gvk.Kind, site, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range list.Items {
				o := &list.Items[i]
				idx[object.UnstructuredToObjMetadata(o)] = o
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return idx, nil
}

// liveConcurrency bounds the LISTs ReadLive runs at once.
const liveConcurrency = 4

// maxReread is the most objects rereadLive reads one by one; above, it lists
// every kind again.
const maxReread = 64

// rereadLive returns the live objects after an apply: before (the view read
// before it) with the objects of the applied inventories read again, one
// GET each, so that a push that changed one product does not list every
// object of the site; when they hold more than maxReread objects, every
// kind is listed again (readLive).
func rereadLive(ctx context.Context, c client.Reader, site string, kinds map[schema.GroupVersionKind]bool, before liveIndex, applied []*inventory.Inventory) (liveIndex, error) {
	var entries []inventory.Entry
	for _, inv := range applied {
		if inv != nil {
			entries = append(entries, inv.Entries...)
		}
	}
	if len(entries) > maxReread || before == nil {
		return readLive(ctx, c, site, kinds)
	}
	ctx, span := tracing.Start(ctx, "live", tracing.Site.String(site), attribute.Int("syncd.reread", len(entries)))
	fresh := make([]*unstructured.Unstructured, len(entries))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(productConcurrency)
	for i, e := range entries {
		g.Go(func() error {
			o := e.Object()
			err := c.Get(gctx, client.ObjectKeyFromObject(o), o)
			switch {
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				return nil
			case err != nil:
				return fmt.Errorf("reading %s: %w", e.ID, err)
			case o.GetLabels()[render.LabelSite] != site:
				return nil // not the site's, as a LIST by its label would say
			}
			fresh[i] = o
			return nil
		})
	}
	err := g.Wait()
	tracing.End(span, err)
	if err != nil {
		return nil, err
	}
	live := maps.Clone(before)
	for i, e := range entries {
		if fresh[i] == nil {
			delete(live, e.ID)
			continue
		}
		live[e.ID] = fresh[i]
	}
	return live, nil
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
