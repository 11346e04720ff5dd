package reconcile

import (
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/apply"
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
