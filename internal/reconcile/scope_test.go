package reconcile

import (
	"context"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// A custom kind is cluster-scoped by a CRD another product installed: the
// render, which does not know it, gives its objects the product's
// namespace; the plan removes it, so what syncd applies and tracks is the
// object the API server keeps.
func TestClusterScopedKindOfAnotherProduct(t *testing.T) {
	c := sharedCluster(t)
	ctx := context.Background()
	const site = "scope-1"
	f := newFleetFixture(t, site)
	// Product crds installs the CRD first.
	f.write("products/crds/product.yaml", fixtureProduct("crds", "scope-crds"))
	f.write("products/crds/releases/1.0.0/kustomization.yaml", "resources: [crd.yaml]\n")
	f.write("products/crds/releases/1.0.0/crd.yaml", strings.Replace(testenv.CRD("scope.example.com", "Gizmo"), "scope: Namespaced", "scope: Cluster", 1))
	f.write("channels/crds.yaml", fixtureChannels("crds", "1.0.0"))
	r := newTestReconciler(t, c, site)
	if rep, err := r.Sync(ctx, f.plan(site)); err != nil || rep.Err() != nil {
		t.Fatalf("installing the CRD: %v, %v", err, rep.Err())
	}
	// Product gizmos renders a Gizmo and has a namespace.
	f.addProduct("gizmos", "scope-gizmos", "1.0.0", "registry.test/app:1")
	f.write("products/gizmos/releases/1.0.0/gizmo.yaml", "apiVersion: scope.example.com/v1\nkind: Gizmo\nmetadata: {name: scope-g1}\n")
	f.write("products/gizmos/releases/1.0.0/kustomization.yaml", "resources: [ns.yaml, cm.yaml, gizmo.yaml]\n")
	for i := range 2 {
		plan, err := r.Plan(ctx, os.DirFS(f.dir), "rev", nil)
		if err != nil {
			t.Fatal(err)
		}
		var pp *ProductPlan
		for _, p := range plan.Products {
			if p.Name == "gizmos" {
				pp = p
			}
		}
		for _, o := range pp.Objects {
			if o.GetKind() == "Gizmo" && o.GetNamespace() != "" {
				t.Fatalf("Gizmo planned in namespace %q, want none: it is cluster-scoped", o.GetNamespace())
			}
			if _, ok := pp.Sources.Of(o); !ok {
				t.Errorf("%s/%s has no source", o.GetKind(), o.GetName())
			}
		}
		rep, err := r.Sync(ctx, plan)
		if err != nil || rep.Err() != nil {
			t.Fatalf("sync %d: %v, %v", i, err, rep.Err())
		}
		if res := result(t, rep, "gizmos"); i == 1 && (res.Created+res.Configured != 0 || res.Drift != 0) {
			t.Errorf("second sync: %+v, want nothing to do", res)
		}
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(schema.GroupVersionKind{Group: "scope.example.com", Version: "v1", Kind: "Gizmo"})
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "scope-g1"}, live); err != nil {
		t.Fatalf("the Gizmo: %v", err)
	}
}

// The CRD and the objects of its cluster-scoped kind arrive in one commit,
// from two products: the plan already knows the kind from the other
// product's CRD, so the first sync applies the object without a namespace.
func TestClusterScopedKindOfAnotherProductInTheSameCommit(t *testing.T) {
	c := sharedCluster(t)
	ctx := context.Background()
	const site = "scope-2"
	f := newFleetFixture(t, site)
	f.write("products/crds/product.yaml", fixtureProduct("crds", "scope2-crds"))
	f.write("products/crds/releases/1.0.0/kustomization.yaml", "resources: [crd.yaml]\n")
	f.write("products/crds/releases/1.0.0/crd.yaml", strings.Replace(testenv.CRD("scope2.example.com", "Doohickey"), "scope: Namespaced", "scope: Cluster", 1))
	f.write("channels/crds.yaml", fixtureChannels("crds", "1.0.0"))
	f.addProduct("gadgets", "scope2-gadgets", "1.0.0", "registry.test/app:1")
	f.write("products/gadgets/releases/1.0.0/doohickey.yaml", "apiVersion: scope2.example.com/v1\nkind: Doohickey\nmetadata: {name: scope2-d1}\n")
	f.write("products/gadgets/releases/1.0.0/kustomization.yaml", "resources: [ns.yaml, cm.yaml, doohickey.yaml]\n")
	r := newTestReconciler(t, c, site)
	plan, err := r.Plan(ctx, os.DirFS(f.dir), "rev", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, pp := range plan.Products {
		for _, o := range pp.Objects {
			if o.GetKind() == "Doohickey" && o.GetNamespace() != "" {
				t.Fatalf("Doohickey planned in namespace %q, want none: the crds product declares it cluster-scoped", o.GetNamespace())
			}
		}
	}
	if rep, err := r.Sync(ctx, plan); err != nil || rep.Err() != nil {
		t.Fatalf("first sync: %v, %v", err, rep.Err())
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(schema.GroupVersionKind{Group: "scope2.example.com", Version: "v1", Kind: "Doohickey"})
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "scope2-d1"}, live); err != nil {
		t.Fatalf("the Doohickey: %v", err)
	}
}
