package apply

import (
	"errors"
	"fmt"
	"testing"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func deployment(apiVersion, kind string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetNamespace("shop")
	o.SetName("web")
	return o
}

func TestFailedField(t *testing.T) {
	served := func(gk schema.GroupKind) bool { return gk == schema.GroupKind{Group: "apps", Kind: "Deployment"} }
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", field.ErrorList{
		field.Invalid(field.NewPath("spec", "selector"), "x", "field is immutable"),
	})
	typed := apierrors.NewBadRequest(`failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.replicaz: field not declared in schema`)
	multi := errors.New("failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): errors:\n  .spec.template.spec.containers[name=\"app\"].imagee: field not declared in schema\n  .spec.replicas: expected numeric (int or float), got string")
	for _, tc := range []struct {
		name string
		err  error
		obj  *unstructured.Unstructured
		want string
	}{
		{"unknown kind", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deploymnet"}, SearchedVersions: []string{"v1"}},
			deployment("apps/v1", "Deploymnet"), "kind"},
		{"unknown version", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, SearchedVersions: []string{"v2"}},
			deployment("apps/v2", "Deployment"), "apiVersion"},
		{"no match in a dry run", ssaerrors.NewDryRunErr(&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}}, deployment("apps/v2", "Deployment")),
			deployment("apps/v2", "Deployment"), "apiVersion"},
		{"invalid value", ssaerrors.NewDryRunErr(invalid, deployment("apps/v1", "Deployment")), deployment("apps/v1", "Deployment"), "spec.selector"},
		{"unknown field", ssaerrors.NewDryRunErr(typed, deployment("apps/v1", "Deployment")), deployment("apps/v1", "Deployment"), ".spec.replicaz"},
		{"several fields", fmt.Errorf("apply failed: %w", multi), deployment("apps/v1", "Deployment"), `.spec.template.spec.containers[name="app"].imagee`},
		{"no field", errors.New("connection refused"), deployment("apps/v1", "Deployment"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FailedField(tc.err, tc.obj, served); got != tc.want {
				t.Errorf("FailedField = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailedObject(t *testing.T) {
	web, api := deployment("apps/v1", "Deployment"), deployment("apps/v1", "Deployment")
	api.SetName("api")
	objs := []*unstructured.Unstructured{web, api}
	for _, tc := range []struct {
		name string
		err  error
		want *unstructured.Unstructured
	}{
		{"dry run", ssaerrors.NewDryRunErr(errors.New("refused"), api), api},
		{"apply", fmt.Errorf("Deployment/shop/api apply failed: %w", errors.New("refused")), api},
		{"a name that only starts alike", errors.New("Deployment/shop/apiserver apply failed"), nil},
		{"none", errors.New("timeout"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FailedObject(tc.err, objs); got != tc.want {
				t.Errorf("FailedObject = %v, want %v", got, tc.want)
			}
		})
	}
}
