package apply

import (
	"errors"
	"regexp"
	"strings"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// typedPathError finds the field of a structured-merge-diff refusal (an
// unknown field, a value of the wrong type), such as
// `failed to create typed patch object (ns/web; apps/v1, Kind=Deployment):
// .spec.replicaz: field not declared in schema`, or one line of its
// multi-error form.
var typedPathError = regexp.MustCompile(`(?m)(?:\): |^\s+|^- )(\.[^\s:]+): `)

// FailedObject returns the object of objs that err, an error of Apply, is
// about: the object whose dry-run the API server refused, or the one the
// error message starts with; nil when it names none of them.
func FailedObject(err error, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	var dr *ssaerrors.DryRunErr
	if errors.As(err, &dr) && dr.InvolvedObject() != nil {
		return dr.InvolvedObject()
	}
	msg := err.Error()
	for _, o := range objs {
		if strings.HasPrefix(msg, utils.FmtUnstructured(o)+" ") {
			return o
		}
	}
	return nil
}

// FailedField returns the path of the field that err, an error of Apply
// about obj, blames (such as spec.selector, .spec.replicaz or kind), or ""
// when it names none. A kind the API server does not serve blames
// apiVersion when served reports that the server serves the kind's group
// and kind at another version, kind otherwise.
func FailedField(err error, obj *unstructured.Unstructured, served func(schema.GroupKind) bool) string {
	if meta.IsNoMatchError(err) {
		if obj != nil && served != nil && served(obj.GroupVersionKind().GroupKind()) {
			return "apiVersion"
		}
		return "kind"
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				if c.Field != "" {
					return c.Field
				}
			}
		}
	}
	if m := typedPathError.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}
