package daemon

import (
	"context"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/hashicorp/go-hclog"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/render"
)

// watcher turns watch events on the site's objects and on Conflict objects
// into single-object reconciles: an edit or delete by someone else, or an
// admin's resolution, names the object to bring back in line.
type watcher struct {
	mapper meta.RESTMapper
	log    hclog.Logger
	// objects watches every kind the site's render holds, by site label;
	// conflicts watches Conflict objects in syncd's namespace.
	objects, conflicts dynamicinformer.DynamicSharedInformerFactory

	// changed is signalled (without blocking; bursts coalesce) on every
	// event of the site's objects, status updates included: their health
	// may have changed.
	changed chan struct{}

	mu      sync.Mutex
	ctx     context.Context
	out     objectQueue
	watched map[schema.GroupVersionResource]bool
}

func newWatcher(dyn dynamic.Interface, mapper meta.RESTMapper, site, namespace string, log hclog.Logger) *watcher {
	bySite := func(o *metav1.ListOptions) { o.LabelSelector = render.LabelSite + "=" + site }
	return &watcher{
		mapper:    mapper,
		log:       log,
		objects:   dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, metav1.NamespaceAll, bySite),
		conflicts: dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, namespace, bySite),
		watched:   map[schema.GroupVersionResource]bool{},
		changed:   make(chan struct{}, 1),
	}
}

// run starts the Conflict watch and returns; objects to reconcile are queued
// on out until ctx ends.
func (w *watcher) run(ctx context.Context, out objectQueue) {
	w.mu.Lock()
	w.ctx, w.out = ctx, out
	w.mu.Unlock()
	gvr := conflict.GroupVersion.WithResource("conflicts")
	_, err := w.conflicts.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { w.onConflict(obj) },
		AddFunc:    func(obj any) { w.onConflict(obj) },
	})
	if err != nil {
		w.log.Error("watching conflicts", "error", err)
		return
	}
	w.conflicts.Start(ctx.Done())
}

// ensure watches every kind of plan not watched yet.
func (w *watcher) ensure(ctx context.Context, plan *reconcile.Plan) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil {
		return
	}
	for _, pp := range plan.Products {
		for _, o := range pp.Objects {
			gvk := o.GroupVersionKind()
			m, err := w.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil || w.watched[m.Resource] {
				continue
			}
			w.watched[m.Resource] = true
			inf := w.objects.ForResource(m.Resource).Informer()
			// The cache keeps only what onObject reads (trim.go).
			if err := inf.SetTransform(trimForWatch); err != nil {
				w.log.Error("watching", "resource", m.Resource.String(), "error", err)
				continue
			}
			_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				// The first list reports objects as added: one changed by
				// someone else while no watch ran is drift too.
				AddFunc:    func(obj any) { w.onObject(nil, obj, false) },
				UpdateFunc: func(old, obj any) { w.onObject(old, obj, false) },
				DeleteFunc: func(obj any) { w.onObject(nil, obj, true) },
			})
			if err != nil {
				w.log.Error("watching", "resource", m.Resource.String(), "error", err)
				continue
			}
			w.log.Debug("watching", "resource", m.Resource.String())
		}
	}
	w.objects.Start(w.ctx.Done())
}

// onObject signals that the health of the site's products may have changed
// and queues an object changed or deleted by someone other than syncd; old
// is the object before an update (nil for adds and deletes): an update that
// changed nothing syncd applies (status, say) queues nothing.
func (w *watcher) onObject(old, obj any, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	select {
	case w.changed <- struct{}{}:
	default:
	}
	if prev, ok := old.(*unstructured.Unstructured); ok && !appliedChanged(prev, u) {
		return
	}
	if !deleted && !changedByOthers(u) {
		return
	}
	w.send(object.UnstructuredToObjMetadata(u), "object", u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName(), "deleted", deleted)
}

// onConflict queues the object of a conflict an admin just resolved.
func (w *watcher) onConflict(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	keep, _, _ := unstructured.NestedString(u.Object, "spec", "resolution", "keep")
	state, _, _ := unstructured.NestedString(u.Object, "status", "state")
	if keep == "" || state == string(conflict.Resolved) {
		return
	}
	ref, _, _ := unstructured.NestedStringMap(u.Object, "spec", "object")
	gv, err := schema.ParseGroupVersion(ref["apiVersion"])
	if err != nil {
		return
	}
	id := object.ObjMetadata{Namespace: ref["namespace"], Name: ref["name"], GroupKind: schema.GroupKind{Group: gv.Group, Kind: ref["kind"]}}
	w.send(id, "conflict", u.GetName(), "keep", keep)
}

func (w *watcher) send(id object.ObjMetadata, args ...any) {
	w.mu.Lock()
	out := w.out
	w.mu.Unlock()
	w.log.Debug("queueing object", args...)
	out.Add(id)
}

// appliedChanged reports whether an update from old to cur may have changed
// something syncd applies: anything but the status and the metadata the API
// server maintains (resourceVersion, generation, managedFields). Status
// updates by controllers, the bulk of watch events, so queue nothing. The
// objects are compared whole rather than by metadata.generation, which kinds
// without a spec (ConfigMap, Secret) do not have and which label and
// annotation edits do not bump. Either object may be trimmed (trim.go): the
// applied parts are compared by digest.
func appliedChanged(old, cur *unstructured.Unstructured) bool {
	return appliedDigest(old) != appliedDigest(cur)
}

// appliedPart is u without status and server-maintained metadata.
func appliedPart(u *unstructured.Unstructured) map[string]any {
	out := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		if k != "status" && k != "metadata" {
			out[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "resourceVersion", "generation", "managedFields":
			default:
				m[k] = v
			}
		}
		out["metadata"] = m
	}
	return out
}

// changedByOthers reports whether the newest write to the object's desired
// state may have come from a field manager other than syncd: through the main
// resource or a subresource such as /scale (`kubectl scale`, an HPA). Managed
// field times have one-second resolution: a tie counts as someone else, so
// an edit right after syncd's own apply is never missed. Status updates by
// controllers do not count.
func changedByOthers(u *unstructured.Unstructured) bool {
	var newest *metav1.Time
	mfs := u.GetManagedFields()
	for i := range mfs {
		if t := mfs[i].Time; mfs[i].Subresource != statusSubresource && t != nil && (newest == nil || newest.Before(t)) {
			newest = t
		}
	}
	if newest == nil {
		return false
	}
	for _, mf := range mfs {
		if mf.Subresource != statusSubresource && mf.Time != nil && mf.Time.Equal(newest) && mf.Manager != apply.FieldManager {
			return true
		}
	}
	return false
}

// statusSubresource is the subresource whose writes report state rather than
// change what syncd applies.
const statusSubresource = "status"
