package reconcile

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// inventoryHas reports whether product's inventory at r's site lists the
// object kind/ns/name.
func inventoryHas(t *testing.T, r *Reconciler, product, kind, ns, name string) bool {
	t.Helper()
	invs, err := r.inventory.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inv := invs[product]
	if inv == nil {
		return false
	}
	for _, e := range inv.Entries {
		if e.ID.GroupKind.Kind == kind && e.ID.Namespace == ns && e.ID.Name == name {
			return true
		}
	}
	return false
}

func TestPruneDisabledAnnotationOrphans(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "pr-disabled", "pr-disabled"
	f := newFleetFixture(t, site)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	cm := configMap(ns)
	editAs(t, c.Client, cm, "kubectl-annotate", func() { cm.Annotations = map[string]string{"syncd.dev/prune": "disabled"} })
	f.write("products/web/releases/1.0.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	rep := syncOnce(t, r, f.plan(site))
	got := result(t, rep, "web")
	if got.Err != nil || got.Pruned != 0 || got.Orphaned != 1 {
		t.Fatalf("sync after the ConfigMap left the render: %+v, want it orphaned, not pruned", got)
	}
	if !exists(t, c.Client, cm, ns, "web-config") {
		t.Fatal("the ConfigMap annotated syncd.dev/prune: disabled was deleted")
	}
	if inventoryHas(t, r, "web", "ConfigMap", ns, "web-config") {
		t.Fatal("the orphaned ConfigMap is still in the inventory")
	}
	if !eventWith(t, c.Client, ns, "Orphaned", "web-config") {
		t.Fatal("no Orphaned event")
	}
	// Forgotten: the product leaving the site later does not delete it either.
	f.write("sites/"+site+"/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: "+site+", labels: {class: lab}}\nspec: {channel: prod}\n")
	plan := f.plan(site)
	plan.AllowMassPrune = true
	syncOnce(t, r, plan)
	if !exists(t, c.Client, cm, ns, "web-config") {
		t.Fatal("the orphaned ConfigMap was deleted when its product left")
	}
}

func TestPruneKeepsNamespaceHoldingForeignObjects(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "pr-nsheld", "pr-nsheld"
	f := newFleetFixture(t, site)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "pr-nsheld-api", "1.0.0", "registry.example.com/api:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// Someone else's data in web's namespace, and an object syncd's own
	// Deployment owns (which does not count).
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if err := c.Client.Create(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	var dep unstructured.Unstructured
	dep.SetAPIVersion("apps/v1")
	dep.SetKind("Deployment")
	exists(t, c.Client, &dep, ns, "web")
	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-owned",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: dep.GetUID()}}}}
	if err := c.Client.Create(context.Background(), owned); err != nil {
		t.Fatal(err)
	}

	f.remove("products/web")
	f.remove("channels/web.yaml")
	rep := syncOnce(t, r, f.plan(site))
	got := result(t, rep, "web")
	if got.Err != nil || got.Pruned != 2 || len(got.PruneHeld) != 1 || !strings.Contains(got.PruneHeld[0], "PersistentVolumeClaim/data") || strings.Contains(got.PruneHeld[0], "web-owned") {
		t.Fatalf("web left the site: %+v, want its 2 objects pruned and the Namespace held for the PVC only", got)
	}
	var nsObj corev1.Namespace
	if !exists(t, c.Client, &nsObj, "", ns) || nsObj.DeletionTimestamp != nil {
		t.Fatalf("Namespace %s was deleted with a PVC in it", ns)
	}
	if !inventoryHas(t, r, "web", "Namespace", "", ns) {
		t.Fatal("the held Namespace left the inventory: it would never be pruned")
	}
	if !eventWith(t, c.Client, metav1.NamespaceDefault, "PruneHeld", "PersistentVolumeClaim/data") {
		t.Fatal("no PruneHeld event naming the PVC")
	}

	// Once the PVC is gone (and the garbage collector, which this cluster
	// does not run, took the object web's Deployment owned), the Namespace
	// goes at the next sync.
	for _, o := range []client.Object{pvc, owned} {
		if err := c.Client.Delete(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		waitGone(t, c.Client, o)
	}
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err != nil || got.Pruned != 1 || len(got.PruneHeld) != 0 {
		t.Fatalf("after the PVC went: %+v, want the Namespace pruned", got)
	}
	if exists(t, c.Client, &nsObj, "", ns) && nsObj.DeletionTimestamp == nil {
		t.Fatal("Namespace not deleted once it held only syncd's objects")
	}
}

// waitGone waits until obj is deleted (a PVC has a protection finalizer
// that no controller removes in this cluster, so it is dropped here).
func waitGone(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err != nil {
			return
		}
		if len(obj.GetFinalizers()) > 0 {
			obj.SetFinalizers(nil)
			_ = c.Update(ctx, obj)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there", obj.GetName())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPruneMassGuard(t *testing.T) {
	c := sharedCluster(t)
	const site = "pr-mass"
	f := newFleetFixture(t, site)
	f.addProduct("web", "pr-mass-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "pr-mass-api", "1.0.0", "registry.example.com/api:1.0.0")
	f.addProduct("db", "pr-mass-db", "1.0.0", "registry.example.com/db:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// Two of three products (6 of 9 objects) leave: refused.
	for _, p := range []string{"web", "api"} {
		f.remove("products/" + p)
		f.remove("channels/" + p + ".yaml")
	}
	rep := syncOnce(t, r, f.plan(site))
	if rep.PruneRefused == nil || !strings.Contains(rep.PruneRefused.Error(), "6 of the site's 9 objects") || rep.Err() == nil {
		t.Fatalf("refusal = %v, want 6 of 9 named and the sync failed", rep.PruneRefused)
	}
	for _, p := range []string{"web", "api"} {
		if got := result(t, rep, p); got.Pruned != 0 {
			t.Fatalf("%s: %+v, want nothing pruned", p, got)
		}
		var ns corev1.Namespace
		if !exists(t, c.Client, &ns, "", "pr-mass-"+p) || ns.DeletionTimestamp != nil {
			t.Fatalf("namespace of %s deleted by a refused mass prune", p)
		}
		if !inventoryHas(t, r, p, "Namespace", "", "pr-mass-"+p) {
			t.Fatalf("inventory of %s lost: a later allowed sync could not prune it", p)
		}
	}

	// A flag raising the limit lets it through.
	r.cfg.MaxPrunePercent = 70
	rep = syncOnce(t, r, f.plan(site))
	if rep.PruneRefused != nil || result(t, rep, "web").Pruned != 3 || result(t, rep, "api").Pruned != 3 {
		t.Fatalf("with --max-prune-percent 70: %+v %v", rep.Results, rep.PruneRefused)
	}
}

// The trailer in the head commit's message allows a mass prune.
func TestPlanSiteReadsMassPruneTrailer(t *testing.T) {
	f := newFleetFixture(t, "pr-trailer")
	f.addProduct("web", "pr-trailer", "1.0.0", "registry.example.com/web:1.0.0")
	for _, tt := range []struct {
		msg  string
		want bool
	}{
		{"remove web\n\nSyncd-Allow-Mass-Prune: true\n", true},
		{"remove web\n\nSigned-off-by: a <a@b>\nsyncd-allow-mass-prune: TRUE\n", true},
		{"remove web\n\nSyncd-Allow-Mass-Prune: false\n", false},
		{"Syncd-Allow-Mass-Prune: true", false},
		{"remove web\n\nSyncd-Allow-Mass-Prune: true\n\nmore text after it\n", false},
	} {
		plan, err := PlanSite(context.Background(), messageFS{os.DirFS(f.dir), tt.msg}, "pr-trailer", "rev")
		if err != nil {
			t.Fatal(err)
		}
		if plan.AllowMassPrune != tt.want {
			t.Errorf("message %q: AllowMassPrune = %v, want %v", tt.msg, plan.AllowMassPrune, tt.want)
		}
	}
}

type messageFS struct {
	fs.FS
	msg string
}

func (m messageFS) Message() string { return m.msg }

func TestPrunePhantomsAreNotCounted(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "pr-phantom", "pr-phantom"
	f := newFleetFixture(t, site)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// Deleted out of band, then removed from Git: nothing left to prune.
	if err := c.Client.Delete(context.Background(), configMap(ns)); err != nil {
		t.Fatal(err)
	}
	f.write("products/web/releases/1.0.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err != nil || got.Pruned != 0 {
		t.Fatalf("sync: %+v, want nothing counted as pruned", got)
	}
	if eventWith(t, c.Client, ns, "Pruned", "web-config") {
		t.Fatal("a Pruned event for an object syncd did not delete")
	}
	if inventoryHas(t, r, "web", "ConfigMap", ns, "web-config") {
		t.Fatal("the gone ConfigMap stayed in the inventory")
	}
}

const prunedWidgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.pr.example.com}
spec:
  group: pr.example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// A product carrying a CRD leaves the site while another product is still
// rolling out: the health wait must not list the kind that just went.
func TestPruneCRDDuringHealthWait(t *testing.T) {
	c := sharedCluster(t)
	const site = "pr-crd"
	f := newFleetFixture(t, site)
	f.addProduct("web", "pr-crd-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.write("products/widgets/product.yaml", fixtureProduct("widgets", "pr-crd-widgets"))
	f.write("channels/widgets.yaml", fixtureChannels("widgets", "1.0.0"))
	rel := "products/widgets/releases/1.0.0/"
	f.write(rel+"kustomization.yaml", "resources: [ns.yaml, crd.yaml, widget.yaml]\n")
	f.write(rel+"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: pr-crd-widgets}\n")
	f.write(rel+"crd.yaml", prunedWidgetCRD)
	f.write(rel+"widget.yaml", "apiVersion: pr.example.com/v1\nkind: Widget\nmetadata: {name: one}\nspec: {size: 1}\n")
	r := newTestReconciler(t, c, site)
	rep := syncOnce(t, r, f.plan(site))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}

	f.remove("products/widgets")
	f.remove("channels/widgets.yaml")
	// web's Deployment never becomes ready here: the wait re-lists every
	// kind of the site several times while the CRD is going away.
	r.cfg.HealthTimeout = 3 * time.Second
	plan := f.plan(site)
	plan.AllowMassPrune = true
	rep = syncOnce(t, r, plan)
	if err := rep.Err(); err != nil {
		t.Fatalf("sync that pruned a CRD failed: %v", err)
	}
	if got := result(t, rep, "widgets"); got.Pruned != 3 {
		t.Fatalf("widgets: %+v, want CRD, Widget and Namespace pruned", got)
	}
	invs, err := r.inventory.List(context.Background())
	if err != nil || invs["widgets"] != nil {
		t.Fatalf("inventories %v %v, want widgets' dropped", invs, err)
	}
	// And the next sync, with the kind gone from the API server, is fine.
	if err := syncOnce(t, r, f.plan(site)).Err(); err != nil {
		t.Fatal(err)
	}
}
