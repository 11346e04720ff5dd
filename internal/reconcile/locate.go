package reconcile

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/render"
)

// locateApplyError places err, an error of applying pp's objects, at the
// file and line of the fleet repo that it blames: the field the API server
// named (an unknown field, a value of the wrong type, an invalid or
// immutable value, a kind or apiVersion it does not serve), or the object's
// document when it names no field found in the file. err is returned as is
// when it names no object of pp or the object's source is not known.
func locateApplyError(err error, pp *ProductPlan, served func(schema.GroupKind) bool) error {
	obj := apply.FailedObject(err, pp.Objects)
	if obj == nil {
		return err
	}
	src, ok := pp.Sources.Of(obj)
	if !ok {
		return err
	}
	return src.At(apply.FailedField(err, obj, served), err)
}

// servedKind reports whether the API server serves the group and kind at
// some version.
func (r *Reconciler) servedKind(gk schema.GroupKind) bool {
	_, err := r.mapper.RESTMapping(gk)
	return err == nil
}

// clusterScopedNamespaces applies render.ClusterScopedNamespaces to the
// products of plan with the site's view of which kinds are cluster-scoped:
// the render knows only built-in kinds and the CRDs of the same render, not a
// custom kind whose CRD another product installed (or installs in this very
// sync), to which it gives the product's namespace. The CRDs of every
// product of the plan count first, then the API server's mapping.
func (r *Reconciler) clusterScopedNamespaces(plan *Plan) {
	var all []*unstructured.Unstructured
	for _, pp := range plan.Products {
		all = append(all, pp.Objects...)
	}
	planned := render.ClusterScopedCRDKinds(all)
	scoped := map[schema.GroupVersionKind]bool{}
	clusterScoped := func(o *unstructured.Unstructured) bool {
		gvk := o.GroupVersionKind()
		if planned[gvk.GroupKind()] {
			return true
		}
		if r.mapper == nil {
			return false
		}
		cluster, ok := scoped[gvk]
		if !ok {
			m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			cluster = err == nil && m.Scope.Name() == meta.RESTScopeNameRoot
			scoped[gvk] = cluster
		}
		return cluster
	}
	for _, pp := range plan.Products {
		if pp.Err != nil || len(pp.Objects) == 0 {
			continue
		}
		srcs, err := render.ClusterScopedNamespaces(pp.Objects, pp.Sources, clusterScoped)
		if err != nil {
			pp.Err = err
			continue
		}
		pp.Sources = srcs
	}
}
