package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// scopes tells namespaced kinds from cluster-scoped ones without a cluster:
// built-in kinds from kustomize's OpenAPI data, custom kinds from the CRDs in
// the same render; unknown custom kinds are taken as namespaced.
type scopes struct {
	clusterCRDKinds map[schema.GroupKind]bool
}

func newScopes(objs []*unstructured.Unstructured) scopes {
	s := scopes{clusterCRDKinds: map[schema.GroupKind]bool{}}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if scope == "Cluster" {
			s.clusterCRDKinds[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return s
}

// ClusterScopedCRDKinds returns the kinds that the CRDs among objs declare
// cluster-scoped.
func ClusterScopedCRDKinds(objs []*unstructured.Unstructured) map[schema.GroupKind]bool {
	return newScopes(objs).clusterCRDKinds
}

func (s scopes) namespaced(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	if s.clusterCRDKinds[gvk.GroupKind()] {
		return false
	}
	namespaced, known := openapi.IsNamespaceScoped(yaml.TypeMeta{APIVersion: o.GetAPIVersion(), Kind: o.GetKind()})
	return !known || namespaced
}
