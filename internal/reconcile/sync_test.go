package reconcile

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/render"
)

func syncOnce(t *testing.T, r *Reconciler, plan *Plan) *Report {
	t.Helper()
	rep, err := r.Sync(context.Background(), plan)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rep
}

func result(t *testing.T, rep *Report, product string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Product == product {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", product, rep.Results)
	return Result{}
}

func exists(t *testing.T, c client.Client, obj client.Object, ns, name string) bool {
	t.Helper()
	err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestSyncCreateUpdatePrune(t *testing.T) {
	c := sharedCluster(t)
	const site = "lifecycle"
	f := newFleetFixture(t, site)
	f.addProduct("web", "lc-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "lc-api", "1.0.0", "registry.example.com/api:1.0.0")
	r := newTestReconciler(t, c, site)

	// Create.
	rep := syncOnce(t, r, f.plan(site))
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	if got := result(t, rep, "web"); got.Created != 3 || got.Configured != 0 {
		t.Fatalf("first sync of web: %+v, want 3 created", got)
	}
	var dep appsv1.Deployment
	if !exists(t, c.Client, &dep, "lc-web", "web") || dep.Labels[render.LabelSite] != site || dep.Labels[render.LabelVersion] != "1.0.0" {
		t.Fatalf("web Deployment missing or unlabelled: %v", dep.Labels)
	}

	// A no-op re-sync changes nothing.
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Unchanged != 3 || got.Created+got.Configured+got.Pruned != 0 {
		t.Fatalf("no-op sync of web: %+v, want 3 unchanged", got)
	}

	// Image bump: a new release on the channel.
	f.addRelease("web", "lc-web", "1.1.0", "registry.example.com/web:1.1.0")
	f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Version != "1.1.0" || got.Configured != 3 {
		t.Fatalf("bump sync of web: %+v, want 3 configured at 1.1.0 (image and version label)", got)
	}
	exists(t, c.Client, &dep, "lc-web", "web")
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/web:1.1.0" {
		t.Fatalf("image = %s after bump", img)
	}

	// An object leaves the release: pruned.
	f.write("products/web/releases/1.1.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Pruned != 1 {
		t.Fatalf("sync after removing the ConfigMap: %+v, want 1 pruned", got)
	}
	if exists(t, c.Client, &corev1.ConfigMap{}, "lc-web", "web-config") {
		t.Fatal("web-config still exists after it left the render")
	}

	// The product stops targeting the site: all of it is pruned, the other stays.
	f.remove("products/web")
	f.remove("channels/web.yaml")
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Pruned != 2 || got.Note != "removed from site" {
		t.Fatalf("sync after removing product web: %+v, want its 2 objects pruned", got)
	}
	if exists(t, c.Client, &appsv1.Deployment{}, "lc-web", "web") {
		t.Fatal("web Deployment still exists after the product left the site")
	}
	if !exists(t, c.Client, &appsv1.Deployment{}, "lc-api", "api") {
		t.Fatal("api Deployment was removed with web")
	}
	invs, err := inventory.NewStore(c.Client, "syncd-system", site).List(context.Background())
	if err != nil || invs["web"] != nil || invs["api"] == nil {
		t.Fatalf("inventories after removal: %v, %v; want api only", invs, err)
	}
}

func TestSyncBrokenReleasePrunesNothing(t *testing.T) {
	c := sharedCluster(t)
	const site = "broken"
	f := newFleetFixture(t, site)
	f.addProduct("web", "br-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "br-api", "1.0.0", "registry.example.com/api:1.0.0")
	r := newTestReconciler(t, c, site)
	if err := syncOnce(t, r, f.plan(site)).Err(); err != nil {
		t.Fatal(err)
	}

	// web's new release is broken YAML; api gets a bump at the same time.
	f.addRelease("web", "br-web", "2.0.0", "registry.example.com/web:2.0.0")
	f.write("products/web/releases/2.0.0/deploy.yaml", "kind: [unclosed\n")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	f.addRelease("api", "br-api", "1.1.0", "registry.example.com/api:1.1.0")
	f.write("channels/api.yaml", fixtureChannels("api", "1.1.0"))

	rep := syncOnce(t, r, f.plan(site))
	web := result(t, rep, "web")
	if web.Err == nil || web.Pruned != 0 || !strings.Contains(web.Err.Error(), "products/web/releases/2.0.0") {
		t.Fatalf("broken web: %+v, want a render error naming the release and nothing pruned", web)
	}
	if api := result(t, rep, "api"); api.Err != nil || api.Version != "1.1.0" || api.Configured == 0 {
		t.Fatalf("api next to broken web: %+v, want it applied at 1.1.0", api)
	}
	var dep appsv1.Deployment
	if !exists(t, c.Client, &dep, "br-web", "web") || dep.Labels[render.LabelVersion] != "1.0.0" {
		t.Fatal("web's live objects changed or vanished after its render failed")
	}
	if !exists(t, c.Client, &corev1.ConfigMap{}, "br-web", "web-config") {
		t.Fatal("web-config was pruned after web's render failed")
	}

	// A broken product.yaml blocks the product too, without pruning it.
	f.write("products/web/product.yaml", fixtureProduct("web", "br-web")+"  unknownField: 1\n")
	f.write("products/web/releases/2.0.0/deploy.yaml", fixtureRelease("br-web", "web", "registry.example.com/web:2.0.0")["deploy.yaml"])
	rep = syncOnce(t, r, f.plan(site))
	if web := result(t, rep, "web"); web.Err == nil || web.Pruned != 0 || !strings.Contains(web.Err.Error(), "products/web/product.yaml") {
		t.Fatalf("web with a broken product.yaml: %+v, want an error naming the file and nothing pruned", web)
	}
	if !exists(t, c.Client, &appsv1.Deployment{}, "br-web", "web") {
		t.Fatal("web was pruned after its product.yaml broke")
	}
}

func TestSyncHoldsBackUnmetDependency(t *testing.T) {
	c := sharedCluster(t)
	const site = "deps"
	f := newFleetFixture(t, site)
	f.addProduct("auth", "dp-auth", "5.0.0", "registry.example.com/auth:5.0.0")
	f.addProduct("ingest", "dp-ingest", "2.0.0", "registry.example.com/ingest:2.0.0", "auth@5.1.0")
	r := newTestReconciler(t, c, site)

	plan := f.plan(site)
	if plan.Products[0].Name != "auth" || plan.Products[1].Name != "ingest" {
		t.Fatalf("plan order = %s, %s; want auth before ingest", plan.Products[0].Name, plan.Products[1].Name)
	}
	rep := syncOnce(t, r, plan)
	ingest := result(t, rep, "ingest")
	if !strings.Contains(ingest.Note, "held back: dependency auth is at 5.0.0 here, needs at least 5.1.0") || ingest.Created != 0 {
		t.Fatalf("ingest: %+v, want held back naming auth's version", ingest)
	}
	if exists(t, c.Client, &appsv1.Deployment{}, "dp-ingest", "ingest") {
		t.Fatal("ingest was applied although its dependency is too old")
	}

	f.addRelease("auth", "dp-auth", "5.1.0", "registry.example.com/auth:5.1.0")
	f.write("channels/auth.yaml", fixtureChannels("auth", "5.1.0"))
	rep = syncOnce(t, r, f.plan(site))
	if ingest := result(t, rep, "ingest"); ingest.Note != "" && !strings.HasPrefix(ingest.Note, "Deployment") || ingest.Created != 3 {
		t.Fatalf("ingest after auth 5.1.0: %+v, want it applied", ingest)
	}
}

func TestSyncRecreatesObjectDeletedOutOfBand(t *testing.T) {
	c := sharedCluster(t)
	const site = "oob"
	f := newFleetFixture(t, site)
	f.addProduct("web", "oob-web", "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	var cm corev1.ConfigMap
	exists(t, c.Client, &cm, "oob-web", "web-config")
	if err := c.Client.Delete(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Created != 1 {
		t.Fatalf("sync after out-of-band delete: %+v, want 1 created", got)
	}
	if !exists(t, c.Client, &corev1.ConfigMap{}, "oob-web", "web-config") {
		t.Fatal("web-config not recreated")
	}

	// An edit by someone else moves the resource version: the unchanged fast
	// path must not hide it, the Git value comes back.
	exists(t, c.Client, &cm, "oob-web", "web-config")
	cm.Data["level"] = "debug"
	if err := c.Client.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Configured != 1 || got.Unchanged != 2 {
		t.Fatalf("sync after out-of-band edit: %+v, want 1 configured, 2 unchanged", got)
	}
	exists(t, c.Client, &cm, "oob-web", "web-config")
	if cm.Data["level"] != "info" {
		t.Fatalf("level = %q after sync, want Git's %q", cm.Data["level"], "info")
	}
}

func TestSyncAfterCrashBetweenInventoryAndApply(t *testing.T) {
	c := sharedCluster(t)
	const site = "crash"
	f := newFleetFixture(t, site)
	f.addProduct("web", "cr-web", "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// Release 2.0.0 renames the ConfigMap. Simulate a crash after the pending
	// inventory (old ∪ new) was written and part of the apply happened: the
	// new ConfigMap exists, the old one was never pruned.
	f.addRelease("web", "cr-web", "2.0.0", "registry.example.com/web:2.0.0")
	f.write("products/web/releases/2.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config-v2}\ndata: {level: debug}\n")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	plan := f.plan(site)
	store := inventory.NewStore(c.Client, "syncd-system", site)
	invs, err := store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pending := &inventory.Inventory{Product: "web", Version: "1.0.0", Entries: inventory.Union(invs["web"].Entries, inventory.EntriesOf(plan.Products[0].Objects))}
	if err := store.Save(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	for _, o := range plan.Products[0].Objects {
		if o.GetName() == "web-config-v2" {
			if _, err := r.applier.Apply(context.Background(), []*unstructured.Unstructured{o}, apply.Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Then the process "restarts" and syncs a Git head that moved on to 3.0.0
	// which renames the ConfigMap again: every object ever recorded must be
	// either in the render or pruned.
	f.addRelease("web", "cr-web", "3.0.0", "registry.example.com/web:3.0.0")
	f.write("products/web/releases/3.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config-v3}\ndata: {level: warn}\n")
	f.write("channels/web.yaml", fixtureChannels("web", "3.0.0"))
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err != nil || got.Pruned != 2 {
		t.Fatalf("sync after crash: %+v, want web-config and web-config-v2 pruned", got)
	}
	var cms corev1.ConfigMapList
	if err := c.Client.List(context.Background(), &cms, client.InNamespace("cr-web")); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			names = append(names, cm.Name)
		}
	}
	if strings.Join(names, ",") != "web-config-v3" {
		t.Fatalf("ConfigMaps after converging = %v, want only web-config-v3 (no orphans)", names)
	}
	invs, _ = store.List(context.Background())
	if got := len(invs["web"].Entries); got != 3 || invs["web"].Version != "3.0.0" {
		t.Fatalf("inventory after converging: %d entries at %s, want 3 at 3.0.0", got, invs["web"].Version)
	}
}

func TestSyncImmutableFieldChange(t *testing.T) {
	c := sharedCluster(t)
	const site = "immutable"
	f := newFleetFixture(t, site)
	f.addProduct("web", "im-web", "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// 1.1.0 changes the Deployment's selector, which is immutable.
	f.addRelease("web", "im-web", "1.1.0", "registry.example.com/web:1.1.0")
	deploy := strings.ReplaceAll(fixtureRelease("im-web", "web", "registry.example.com/web:1.1.0")["deploy.yaml"], "{app: web}", "{app: web, tier: front}")
	f.write("products/web/releases/1.1.0/deploy.yaml", deploy)
	f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err == nil || !strings.Contains(got.Err.Error(), "forceRecreate: true") || got.Pruned != 0 {
		t.Fatalf("immutable change without opt-in: %+v, want an error pointing at forceRecreate", got)
	}
	var dep appsv1.Deployment
	exists(t, c.Client, &dep, "im-web", "web")
	uid := dep.UID

	f.write("products/web/product.yaml", fixtureProduct("web", "im-web")+"  forceRecreate: true\n")
	rep = syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err != nil {
		t.Fatalf("immutable change with forceRecreate: %v", got.Err)
	}
	exists(t, c.Client, &dep, "im-web", "web")
	if dep.UID == uid || dep.Spec.Selector.MatchLabels["tier"] != "front" {
		t.Fatalf("Deployment not recreated with the new selector: uid same=%v selector=%v", dep.UID == uid, dep.Spec.Selector.MatchLabels)
	}
}

func TestSyncNotesWhyVersionIsNotTheChannels(t *testing.T) {
	c := sharedCluster(t)
	const site = "substituted"
	f := newFleetFixture(t, site)
	f.addProduct("auth", "sb-auth", "5.1.1", "registry.example.com/auth:5.1.1")
	f.addRelease("auth", "sb-auth", "5.2.0", "registry.example.com/auth:5.2.0")
	f.write("products/auth/releases/5.2.0/release.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata: {name: auth-5.2.0}
spec: {recalled: true, reason: token cache leaks memory}
`)
	f.write("channels/auth.yaml", fixtureChannels("auth", "5.2.0"))
	r := newTestReconciler(t, c, site)

	rep := syncOnce(t, r, f.plan(site))
	const want = "channel prod says 5.2.0 (recalled: token cache leaks memory); running 5.1.1"
	auth := result(t, rep, "auth")
	if auth.Err != nil || auth.Version != "5.1.1" || !strings.HasPrefix(auth.Note, want) {
		t.Fatalf("auth: %+v, want 5.1.1 applied with a note starting %q", auth, want)
	}
	// Unchanged on the next sync, the note stays.
	if auth := result(t, syncOnce(t, r, f.plan(site)), "auth"); auth.Unchanged == 0 || !strings.HasPrefix(auth.Note, want) {
		t.Fatalf("auth resynced: %+v, want unchanged with a note starting %q", auth, want)
	}
}

func TestSyncRecordsTheLiveResourceVersionsOfWhatItApplied(t *testing.T) {
	c := sharedCluster(t)
	const site = "recorded"
	f := newFleetFixture(t, site)
	f.addProduct("web", "rec-web", "1.0.0", "registry.example.com/web:1.0.0")
	f.addProduct("api", "rec-api", "1.0.0", "registry.example.com/api:1.0.0")
	r := newTestReconciler(t, c, site)
	ctx := context.Background()
	store := inventory.NewStore(c.Client, "syncd-system", site)

	for _, step := range []struct {
		name string
		edit func()
	}{
		{"first sync: both products applied", func() {}},
		{"web bumped: web alone applied, its objects read again", func() {
			f.addRelease("web", "rec-web", "1.1.0", "registry.example.com/web:1.1.0")
			f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
		}},
	} {
		step.edit()
		if err := syncOnce(t, r, f.plan(site)).Err(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		invs, err := store.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, product := range []string{"web", "api"} {
			for _, e := range invs[product].Entries {
				o := e.Object()
				if err := c.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
					t.Fatalf("%s: %s: %v", step.name, e.ID, err)
				}
				if e.ResourceVersion != o.GetResourceVersion() {
					t.Errorf("%s: %s recorded at resource version %q, live at %q", step.name, e.ID, e.ResourceVersion, o.GetResourceVersion())
				}
			}
		}
	}
}
