package reconcile

// Regression tests for defects found in review: each failed before its fix.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

func cmYAML(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: v}\n"
}

// writeRelease replaces a release dir with ConfigMaps of the given names.
func (f *fleetFixture) writeRelease(product, version string, names ...string) {
	f.remove("products/" + product + "/releases/" + version)
	k := "resources:\n"
	for _, n := range names {
		k += "- " + n + ".yaml\n"
		f.write("products/"+product+"/releases/"+version+"/"+n+".yaml", cmYAML(n))
	}
	f.write("products/"+product+"/releases/"+version+"/kustomization.yaml", k)
}

func (f *fleetFixture) cmProduct(name, version string, deps []string, cms ...string) {
	f.write("products/"+name+"/product.yaml", fixtureProduct(name, "default", deps...))
	f.write("channels/"+name+".yaml", fixtureChannels(name, version))
	f.writeRelease(name, version, cms...)
}

// 1. An object moved from a product that leaves the site to a product that
// stays is deleted by pruneRemoved after the other product applied it.
func TestRegressionObjectMovedFromRemovedProductIsKept(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-move"
	f := newFleetFixture(t, site)
	f.cmProduct("alpha", "1.0.0", nil, "pm-move-shared", "pm-move-a")
	f.cmProduct("beta", "1.0.0", nil, "pm-move-b")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	f.remove("products/alpha")
	f.remove("channels/alpha.yaml")
	f.writeRelease("beta", "1.0.0", "pm-move-b", "pm-move-shared")
	rep := syncOnce(t, r, f.plan(site))
	for _, res := range rep.Results {
		t.Logf("result %+v", res)
	}
	if !exists(t, c.Client, &corev1.ConfigMap{}, "default", "pm-move-shared") {
		t.Errorf("pm-move-shared is rendered by beta but was deleted by the prune of removed product alpha")
	}
}

// 2. Moving an object from a level-0 product to its level-1 dependent:
// the level-0 prune deletes it before the dependent re-creates it (new UID).
func TestRegressionObjectMovedAcrossLevelsIsNotRecreated(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-level"
	f := newFleetFixture(t, site)
	f.cmProduct("alpha", "1.0.0", nil, "pm-level-shared", "pm-level-a")
	f.cmProduct("beta", "1.0.0", []string{"alpha@1.0.0"}, "pm-level-b")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	before := &corev1.ConfigMap{}
	exists(t, c.Client, before, "default", "pm-level-shared")

	f.writeRelease("alpha", "1.0.0", "pm-level-a")
	f.writeRelease("beta", "1.0.0", "pm-level-b", "pm-level-shared")
	rep := syncOnce(t, r, f.plan(site))
	t.Logf("alpha %+v / beta %+v", result(t, rep, "alpha"), result(t, rep, "beta"))
	after := &corev1.ConfigMap{}
	if !exists(t, c.Client, after, "default", "pm-level-shared") {
		t.Fatalf("deleted outright")
	}
	if before.UID != after.UID {
		t.Errorf("pm-level-shared was deleted and recreated (uid %s -> %s) though it never left the site's render", before.UID, after.UID)
	}
}

// 3. A fails to apply, B (depends on A) is held back, C (depends on B) is
// applied anyway.
func TestRegressionHoldBackIsTransitive(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-trans"
	f := newFleetFixture(t, site)
	f.cmProduct("a", "1.0.0", nil, "pm-trans-a")
	// invalid object name: renders, fails to apply
	f.write("products/a/releases/1.0.0/pm-trans-a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\ndata: {k: v}\n")
	f.cmProduct("b", "1.0.0", []string{"a@1.0.0"}, "pm-trans-b")
	f.cmProduct("cc", "1.0.0", []string{"b@1.0.0"}, "pm-trans-c")
	r := newTestReconciler(t, c, site)
	rep, _ := r.Sync(context.Background(), f.plan(site))
	for _, res := range rep.Results {
		t.Logf("result %s: created=%d note=%q err=%v", res.Product, res.Created, res.Note, res.Err)
	}
	if exists(t, c.Client, &corev1.ConfigMap{}, "default", "pm-trans-c") {
		t.Errorf("cc applied although its dependency b was held back because a failed")
	}
}

// 4. A strategy change in Git (manual -> git_wins) is never acted on: the
// unchanged-since-applied fast path skips the product.
func TestRegressionStrategyChangeIsActedOn(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "pm-strat", "pm-strat"
	f := conflictFixture(t, site, ns, "manual", "")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	cm := configMap(ns)
	editAs(t, c.Client, cm, "kubectl-edit", func() { cm.Data["level"] = "debug" })
	rep := syncOnce(t, r, f.plan(site))
	t.Logf("held sync: %+v", result(t, rep, "web"))

	f.write("sites/"+site+"/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: "+site+", labels: {class: prod}}\nspec:\n  channel: prod\n  conflictStrategy: git_wins\n")
	rep = syncOnce(t, r, f.plan(site))
	got := result(t, rep, "web")
	t.Logf("after switching to git_wins: %+v", got)
	exists(t, c.Client, cm, ns, "web-config")
	if cm.Data["level"] != "info" {
		t.Errorf("strategy now git_wins but live level=%q kept (forced=%d, unchanged=%d)", cm.Data["level"], got.Forced, got.Unchanged)
	}
}

// 5. A channels file misnamed .yml is reported as a load problem, but the
// product then plans as NotDeployed and everything it owns is pruned.
func TestRegressionMisnamedChannelsFileBlocksNotPrunes(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-yml"
	f := newFleetFixture(t, site)
	f.cmProduct("alpha", "1.0.0", nil, "pm-yml-a")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	if err := os.Rename(filepath.Join(f.dir, "channels/alpha.yaml"), filepath.Join(f.dir, "channels/alpha.yml")); err != nil {
		t.Fatal(err)
	}
	plan := f.plan(site) // PlanSite: no error
	rep := syncOnce(t, r, plan)
	t.Logf("alpha: %+v", result(t, rep, "alpha"))
	if !exists(t, c.Client, &corev1.ConfigMap{}, "default", "pm-yml-a") {
		t.Errorf("a load error (channels/alpha.yml) pruned every object of alpha")
	}
}

// 6. keep server: the live value is accepted "until Git's value changes";
// a new live value by the same manager opens a new manual conflict instead.
func TestRegressionKeepServerLastsUntilGitChanges(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "pm-keep", "pm-keep"
	f, r, cm, first := manualConflictOnLevel(t, c, site, ns)
	if _, err := r.conflicts.Resolve(context.Background(), first.Name, "server", "tester"); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, r, f.plan(site))
	editAs(t, c.Client, cm, "kubectl-edit", func() { cm.Data["level"] = "trace" })
	rep := syncOnce(t, r, f.plan(site))
	got := result(t, rep, "web")
	if open := openConflicts(t, r); len(open) != 0 || got.Held != 0 {
		t.Errorf("Git's value unchanged since --keep server, yet held=%d, open conflicts=%d", got.Held, len(open))
	}
}

// 7. forceRecreate: an update the API server rejects as Invalid (not an
// immutable-field change) deletes the live object, then the recreate fails.
func TestRegressionForceRecreateKeepsObjectOnInvalidUpdate(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-force"
	f := newFleetFixture(t, site)
	f.cmProduct("alpha", "1.0.0", nil, "pm-force-a")
	f.write("products/alpha/product.yaml", fixtureProduct("alpha", "default")+"  forceRecreate: true\n")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	f.write("products/alpha/releases/1.0.0/pm-force-a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pm-force-a}\ndata: {\"bad key!\": v}\n")
	rep, _ := r.Sync(context.Background(), f.plan(site))
	t.Logf("alpha: %+v", result(t, rep, "alpha"))
	if !exists(t, c.Client, &corev1.ConfigMap{}, "default", "pm-force-a") {
		t.Errorf("an invalid update deleted the live object (forceRecreate)")
	}
}

// A product whose targets expression fails for the site is blocked; the
// other products still sync and nothing of it is pruned.
func TestRegressionFailingTargetsBlocksOnlyItsProduct(t *testing.T) {
	c := sharedCluster(t)
	const site = "rg-targets"
	f := newFleetFixture(t, site)
	f.addProduct("web", "rg-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "rg-api", "1.0.0", "registry.example.com/api:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	f.write("products/web/product.yaml", strings.Replace(fixtureProduct("web", "rg-web"),
		"site.labels.class == 'prod'", "site.labels.region.startsWith('us-')", 1))
	f.addRelease("api", "rg-api", "1.1.0", "registry.example.com/api:1.1.0")
	f.write("channels/api.yaml", fixtureChannels("api", "1.1.0"))
	rep := syncOnce(t, r, f.plan(site))
	if web := result(t, rep, "web"); web.Err == nil || !strings.Contains(web.Err.Error(), "spec.targets") || web.Pruned != 0 {
		t.Fatalf("web with a failing targets expression: %+v, want an error naming spec.targets and nothing pruned", web)
	}
	if api := result(t, rep, "api"); api.Err != nil || api.Version != "1.1.0" {
		t.Fatalf("api next to it: %+v, want applied at 1.1.0", api)
	}
	if !exists(t, c.Client, &corev1.ConfigMap{}, "rg-web", "web-config") {
		t.Fatal("web's objects were pruned")
	}
}

// 8. forceRecreate recreates only the object whose immutable field changed:
// after an IngressClass's immutable controller changed, the retry used to
// force-apply the whole product, deleting every object the API server
// refused as Invalid (here a ConfigMap whose new version is invalid) and
// then failing to recreate it.
func TestRegressionForceRecreateOnlyTheImmutableObject(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-recreate"
	f := newFleetFixture(t, site)
	f.write("products/alpha/product.yaml", fixtureProduct("alpha", "default")+"  forceRecreate: true\n")
	f.write("channels/alpha.yaml", fixtureChannels("alpha", "1.0.0"))
	class := func(controller string) string {
		return "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: pm-recreate-ic}\nspec: {controller: " + controller + "}\n"
	}
	rel := "products/alpha/releases/1.0.0/"
	f.write(rel+"kustomization.yaml", "resources: [ic.yaml, bad.yaml, good.yaml]\n")
	f.write(rel+"ic.yaml", class("example.com/a"))
	f.write(rel+"bad.yaml", cmYAML("pm-recreate-bad"))
	f.write(rel+"good.yaml", cmYAML("pm-recreate-good"))
	r := newTestReconciler(t, c, site)
	if got := result(t, syncOnce(t, r, f.plan(site)), "alpha"); got.Err != nil {
		t.Fatalf("first sync: %v", got.Err)
	}
	uids := map[string]string{}
	for _, n := range []string{"pm-recreate-bad", "pm-recreate-good"} {
		var cm corev1.ConfigMap
		exists(t, c.Client, &cm, "default", n)
		uids[n] = string(cm.UID)
	}

	f.write(rel+"ic.yaml", class("example.com/b"))
	f.write(rel+"bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pm-recreate-bad}\ndata: {\"bad key!\": v}\n")
	f.write(rel+"good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pm-recreate-good}\ndata: {k: v2}\n")
	rep, _ := r.Sync(context.Background(), f.plan(site))
	if got := result(t, rep, "alpha"); got.Err == nil || !strings.Contains(got.Err.Error(), "bad key!") {
		t.Errorf("alpha: %+v, want the invalid ConfigMap reported", got)
	}
	var ic networkingv1.IngressClass
	if exists(t, c.Client, &ic, "", "pm-recreate-ic") && ic.Spec.Controller != "example.com/b" {
		t.Errorf("IngressClass controller = %q, want it recreated with example.com/b", ic.Spec.Controller)
	}
	for _, n := range []string{"pm-recreate-bad", "pm-recreate-good"} {
		var cm corev1.ConfigMap
		if !exists(t, c.Client, &cm, "default", n) {
			t.Errorf("%s was deleted by the recreate of another object", n)
		} else if string(cm.UID) != uids[n] {
			t.Errorf("%s was recreated (new UID) though none of its immutable fields changed", n)
		}
	}
}

// 9. Inventory names cannot collide across sites sharing a namespace: site
// "ic-a-b" with product "c" and site "ic-a" with product "b-c" both once
// stored "syncd-inventory-ic-a-b-c", each overwriting the other's. A legacy
// name of this site is replaced on the next save.
func TestRegressionInventoryNamesDoNotCollide(t *testing.T) {
	c := sharedCluster(t)
	ctx := context.Background()
	const ns = "syncd-system"
	_ = c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	one := inventory.NewStore(c.Client, ns, "ic-a-b")
	two := inventory.NewStore(c.Client, ns, "ic-a")
	entry := func(name string) []inventory.Entry {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("default")
		u.SetName(name)
		return inventory.EntriesOf([]*unstructured.Unstructured{u})
	}
	if err := one.Save(ctx, &inventory.Inventory{Product: "c", Version: "1.0.0", Entries: entry("of-one")}); err != nil {
		t.Fatal(err)
	}
	if err := two.Save(ctx, &inventory.Inventory{Product: "b-c", Version: "2.0.0", Entries: entry("of-two")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		store   *inventory.Store
		product string
		object  string
	}{{one, "c", "of-one"}, {two, "b-c", "of-two"}} {
		invs, err := tc.store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inv := invs[tc.product]
		if len(invs) != 1 || inv == nil || len(inv.Entries) != 1 || inv.Entries[0].ID.Name != tc.object {
			t.Errorf("inventories of the site with product %s: %+v, want only its own, holding %s", tc.product, invs, tc.object)
		}
	}

	// A legacy-named inventory of this site: read, then replaced on save.
	legacy := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "syncd-inventory-ic-old-web", Namespace: ns, Labels: map[string]string{
			"syncd.dev/inventory": "true", wellknown.LabelSite: "ic-old", wellknown.LabelProduct: "web"}},
		Data: map[string]string{"product": "web", "version": "1.0.0", "objects": entry("legacy")[0].String()},
	}
	if err := c.Client.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	old := inventory.NewStore(c.Client, ns, "ic-old")
	invs, err := old.List(ctx)
	if err != nil || invs["web"] == nil || invs["web"].Entries[0].ID.Name != "legacy" {
		t.Fatalf("legacy inventory: %+v, %v", invs, err)
	}
	if err := old.Save(ctx, &inventory.Inventory{Product: "web", Version: "1.1.0", Entries: entry("legacy")}); err != nil {
		t.Fatal(err)
	}
	if exists(t, c.Client, &corev1.ConfigMap{}, ns, legacy.Name) {
		t.Errorf("the legacy-named inventory is still there after a save")
	}
	if invs, err := old.List(ctx); err != nil || len(invs) != 1 || invs["web"].Version != "1.1.0" {
		t.Errorf("after the save: %+v, %v; want web at 1.1.0", invs, err)
	}
}

// 10. The watch path honours hold-backs decided during a sync (issue 13,
// item 5): app 2.0.0 is held back because its dependency base failed to
// apply; an out-of-band edit of app's object must not get app's 2.0.0
// version applied by the object sync.
func TestRegressionObjectSyncHonoursHoldBacksOfTheSync(t *testing.T) {
	c := sharedCluster(t)
	const site = "pm-holdwatch"
	f := newFleetFixture(t, site)
	cm := func(name, value string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: " + value + "}\n"
	}
	release := func(product, version, name, value string) {
		dir := "products/" + product + "/releases/" + version + "/"
		f.write(dir+"kustomization.yaml", "resources: [cm.yaml]\n")
		f.write(dir+"cm.yaml", cm(name, value))
		f.write("channels/"+product+".yaml", fixtureChannels(product, version))
	}
	f.write("products/base/product.yaml", fixtureProduct("base", "default"))
	f.write("products/app/product.yaml", fixtureProduct("app", "default", "base@1.0.0"))
	release("base", "1.0.0", "pm-holdwatch-base", "v1")
	release("app", "1.0.0", "pm-holdwatch-app", "v1")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	release("base", "2.0.0", "pm-holdwatch-base", "v2")
	f.write("products/base/releases/2.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pm-holdwatch-base}\ndata: {\"bad key!\": v2}\n")
	release("app", "2.0.0", "pm-holdwatch-app", "v2")
	plan := f.plan(site)
	rep, _ := r.Sync(context.Background(), plan)
	if got := result(t, rep, "base"); got.Err == nil {
		t.Fatalf("base 2.0.0 with an invalid ConfigMap: %+v, want an apply error", got)
	}
	if got := result(t, rep, "app"); !strings.Contains(got.Note, "held back") {
		t.Fatalf("app: %+v, want held back behind base", got)
	}

	// Someone edits app's ConfigMap; the watch reacts with an object sync.
	var live corev1.ConfigMap
	if !exists(t, c.Client, &live, "default", "pm-holdwatch-app") {
		t.Fatal("app's ConfigMap is gone")
	}
	live.Data["k"] = "edited"
	if err := c.Client.Update(context.Background(), &live); err != nil {
		t.Fatal(err)
	}
	id := object.ObjMetadata{Namespace: "default", Name: "pm-holdwatch-app", GroupKind: schema.GroupKind{Kind: "ConfigMap"}}
	res, err := r.SyncObject(context.Background(), plan, id)
	if err != nil {
		t.Fatal(err)
	}
	exists(t, c.Client, &live, "default", "pm-holdwatch-app")
	if live.Data["k"] == "v2" {
		t.Errorf("the object sync applied app 2.0.0, held back in the sync (result %+v)", res)
	}
}
