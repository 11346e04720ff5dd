package reconcile

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// conflictFixture is a site with product web whose site.yaml carries the
// given strategy and rules.
func conflictFixture(t *testing.T, site, ns, strategy, rules string) *fleetFixture {
	f := newFleetFixture(t, site)
	f.write("sites/"+site+"/site.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: `+site+`, labels: {class: prod}}
spec:
  channel: prod
  conflictStrategy: `+strategy+"\n"+rules)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	return f
}

// editAs changes a live object as another field manager, like kubectl edit.
func editAs(t *testing.T, c client.Client, obj client.Object, manager string, mutate func()) {
	t.Helper()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	mutate()
	if err := c.Update(context.Background(), obj, client.FieldOwner(manager)); err != nil {
		t.Fatal(err)
	}
}

func configMap(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: objectMeta(ns, "web-config")}
}

func TestConflictGitWinsTakesTheFieldBack(t *testing.T) {
	c := sharedCluster(t)
	f := conflictFixture(t, "cf-gitwins", "cf-gitwins", "git_wins", "")
	r := newTestReconciler(t, c, "cf-gitwins")
	syncOnce(t, r, f.plan("cf-gitwins"))

	cm := configMap("cf-gitwins")
	editAs(t, c.Client, cm, "kubectl-edit", func() { cm.Data["level"] = "debug" })
	rep := syncOnce(t, r, f.plan("cf-gitwins"))
	if got := result(t, rep, "web"); got.Forced != 1 || got.Configured != 1 {
		t.Fatalf("sync after edit: %+v, want 1 forced, 1 configured", got)
	}
	exists(t, c.Client, cm, "cf-gitwins", "web-config")
	if cm.Data["level"] != "info" || fieldOwner(cm, "kubectl-edit") {
		t.Fatalf("after git_wins: level=%q, kubectl-edit still owns a field: %v", cm.Data["level"], fieldOwner(cm, "kubectl-edit"))
	}
	if !eventWith(t, c.Client, "cf-gitwins", "ConflictGitWins", "kubectl-edit") {
		t.Fatal("no ConflictGitWins event naming the manager")
	}
}

func TestConflictServerWinsForHPAReplicasWhileImageFollowsGit(t *testing.T) {
	c := sharedCluster(t)
	f := conflictFixture(t, "cf-hpa", "cf-hpa", "git_wins",
		"  conflictRules:\n  - {kind: Deployment, path: /spec/replicas, manager: hpa-controller, strategy: server_wins}\n")
	r := newTestReconciler(t, c, "cf-hpa")
	syncOnce(t, r, f.plan("cf-hpa"))

	dep := &appsv1.Deployment{ObjectMeta: objectMeta("cf-hpa", "web")}
	editAs(t, c.Client, dep, "hpa-controller", func() { dep.Spec.Replicas = ptr.To[int32](5) })
	f.addRelease("web", "cf-hpa", "1.1.0", "registry.example.com/web:1.1.0")
	f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
	rep := syncOnce(t, r, f.plan("cf-hpa"))
	if got := result(t, rep, "web"); got.Yielded != 1 || got.Forced != 0 || got.Err != nil {
		t.Fatalf("sync with HPA replicas and an image bump: %+v, want 1 yielded", got)
	}
	exists(t, c.Client, dep, "cf-hpa", "web")
	if *dep.Spec.Replicas != 5 || dep.Spec.Template.Spec.Containers[0].Image != "registry.example.com/web:1.1.0" {
		t.Fatalf("replicas=%d image=%s, want the HPA's 5 and Git's image", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
	}
	// diff lists the field as yielded, not as drift.
	changes, err := r.Diff(context.Background(), f.plan("cf-hpa"))
	if err != nil {
		t.Fatal(err)
	}
	yielded := 0
	for _, ch := range changes {
		if ch.Action.Differs() {
			t.Errorf("diff reports %s %s as %s", ch.Product, ch.Object, ch.Action)
		}
		if ch.Action == diff.Yielded && strings.HasSuffix(ch.Object, "/spec/replicas") && strings.Contains(ch.Diff, "live 5 (manager hpa-controller)") {
			yielded++
		}
	}
	if yielded != 1 {
		t.Fatalf("diff = %+v, want /spec/replicas yielded to hpa-controller", changes)
	}

	// Stable: the next sync yields again and changes nothing else.
	rep = syncOnce(t, r, f.plan("cf-hpa"))
	if got := result(t, rep, "web"); got.Configured != 0 || got.Created != 0 {
		t.Fatalf("re-sync: %+v, want nothing applied", got)
	}
}

func TestConflictManualResolveKeepGit(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-manual", "cf-manual"
	f := conflictFixture(t, site, ns, "manual", "")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	cm := configMap(ns)
	editAs(t, c.Client, cm, "kubectl-edit", func() { cm.Data["level"] = "debug" })
	// Git also changes another field of the same object: it must still apply.
	f.write("products/web/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: info, extra: git}\n")
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Held != 1 {
		t.Fatalf("sync after edit under manual: %+v, want 1 held", got)
	}
	exists(t, c.Client, cm, ns, "web-config")
	if cm.Data["level"] != "debug" || cm.Data["extra"] != "git" {
		t.Fatalf("data = %v, want live level kept and Git's extra applied", cm.Data)
	}
	open := openConflicts(t, r)
	if len(open) != 1 {
		t.Fatalf("open conflicts = %d, want 1", len(open))
	}
	got := open[0]
	if got.Spec.Field != "/data/level" || got.Spec.Manager != "kubectl-edit" || got.Status.GitValue != `"info"` || got.Status.LiveValue != `"debug"` || got.Status.FirstSeen.IsZero() {
		t.Fatalf("conflict = %+v %+v", got.Spec, got.Status)
	}
	// Re-syncing does not duplicate it.
	syncOnce(t, r, f.plan(site))
	if n := len(openConflicts(t, r)); n != 1 {
		t.Fatalf("open conflicts after re-sync = %d, want still 1", n)
	}

	if _, err := r.conflicts.Resolve(context.Background(), got.Name, "git", "tester"); err != nil {
		t.Fatal(err)
	}
	rep = syncOnce(t, r, f.plan(site))
	if res := result(t, rep, "web"); res.Forced != 1 {
		t.Fatalf("sync after --keep git: %+v, want 1 forced", res)
	}
	exists(t, c.Client, cm, ns, "web-config")
	if cm.Data["level"] != "info" || fieldOwner(cm, "kubectl-edit") {
		t.Fatalf("after keep git: level=%q; kubectl-edit owns a field: %v", cm.Data["level"], fieldOwner(cm, "kubectl-edit"))
	}
	resolved, err := r.conflicts.Get(context.Background(), got.Name)
	if err != nil || resolved.Status.State != conflict.Resolved || resolved.Spec.Resolution.By != "tester" {
		t.Fatalf("conflict after keep git: %+v %v", resolved, err)
	}
}

// manualConflictOnLevel syncs product web at site under the manual strategy,
// edits web-config's level as kubectl-edit and syncs again: one conflict is
// open, returned with what the test needs to go on.
func manualConflictOnLevel(t *testing.T, c *testenv.Cluster, site, ns string) (*fleetFixture, *Reconciler, *corev1.ConfigMap, conflict.Conflict) {
	t.Helper()
	f := conflictFixture(t, site, ns, "manual", "")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	cm := configMap(ns)
	editAs(t, c.Client, cm, "kubectl-edit", func() { cm.Data["level"] = "debug" })
	syncOnce(t, r, f.plan(site))
	open := openConflicts(t, r)
	if len(open) != 1 {
		t.Fatalf("open conflicts = %d, want 1", len(open))
	}
	return f, r, cm, open[0]
}

func TestConflictManualKeepServerUntilGitChanges(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-keepserver", "cf-keepserver"
	f, r, cm, first := manualConflictOnLevel(t, c, site, ns)
	if _, err := r.conflicts.Resolve(context.Background(), first.Name, "server", "tester"); err != nil {
		t.Fatal(err)
	}
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Held != 0 || got.Yielded != 1 || len(openConflicts(t, r)) != 0 {
		t.Fatalf("sync after keep server: %+v, open %d; want yielded, no new conflict", got, len(openConflicts(t, r)))
	}
	exists(t, c.Client, cm, ns, "web-config")
	if cm.Data["level"] != "debug" {
		t.Fatalf("level = %q, want the accepted live value", cm.Data["level"])
	}

	// Git's value for the field changes: a new conflict opens.
	f.write("products/web/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n")
	syncOnce(t, r, f.plan(site))
	now := openConflicts(t, r)
	if len(now) != 1 || now[0].Name == first.Name || now[0].Status.GitValue != `"warn"` {
		t.Fatalf("after Git changed: open = %+v, want one new conflict for git \"warn\"", now)
	}
	old, err := r.conflicts.Get(context.Background(), first.Name)
	if err != nil || old.Status.State != conflict.Superseded || old.Spec.Resolution == nil {
		t.Fatalf("the accepted conflict after Git moved on: %+v %v, want superseded and kept for audit", old, err)
	}
}

func TestConflictSupersededWhenGitMatchesLive(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-superseded", "cf-superseded"
	f, r, _, open := manualConflictOnLevel(t, c, site, ns)
	f.write("products/web/releases/1.0.0/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: debug}\n")
	syncOnce(t, r, f.plan(site))
	got, err := r.conflicts.Get(context.Background(), open.Name)
	if err != nil || got.Status.State != conflict.Superseded {
		t.Fatalf("conflict after Git matched live: %+v %v, want superseded", got, err)
	}
}

func TestConflictTwoFieldsDifferentRules(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-twofields", "cf-twofields"
	f := conflictFixture(t, site, ns, "git_wins",
		"  conflictRules:\n  - {kind: Deployment, path: /spec/replicas, strategy: server_wins}\n  - {kind: Deployment, path: /spec/template/spec/containers, strategy: manual}\n")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	dep := &appsv1.Deployment{ObjectMeta: objectMeta(ns, "web")}
	editAs(t, c.Client, dep, "kubectl-edit", func() {
		dep.Spec.Replicas = ptr.To[int32](4)
		dep.Spec.Template.Spec.Containers[0].Image = "registry.example.com/web:hotfix"
	})
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Yielded != 1 || got.Held != 1 {
		t.Fatalf("sync: %+v, want replicas yielded and the image held", got)
	}
	exists(t, c.Client, dep, ns, "web")
	if *dep.Spec.Replicas != 4 || dep.Spec.Template.Spec.Containers[0].Image != "registry.example.com/web:hotfix" {
		t.Fatalf("replicas=%d image=%s, want both live values kept", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
	}
	open := openConflicts(t, r)
	if len(open) != 1 || open[0].Spec.Field != "/spec/template/spec/containers/0/image" {
		t.Fatalf("open conflicts = %+v, want one on the image", open)
	}
	if got := result(t, rep, "web"); got.Health == health.Error {
		t.Fatalf("health = %s", got.Health)
	}
}

func TestConflictSecretValuesAreHashed(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-secret", "cf-secret"
	f := conflictFixture(t, site, ns, "manual", "")
	f.write("products/web/releases/1.0.0/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: web-secret}\ndata: {password: ZnJvbS1naXQtczNjcmV0}\n")
	f.write("products/web/releases/1.0.0/kustomization.yaml", "resources: [ns.yaml, cm.yaml, deploy.yaml, secret.yaml]\n")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	sec := &corev1.Secret{ObjectMeta: objectMeta(ns, "web-secret")}
	editAs(t, c.Client, sec, "kubectl-edit", func() { sec.Data["password"] = []byte("live-s3cret") })
	syncOnce(t, r, f.plan(site))
	open := openConflicts(t, r)
	if len(open) != 1 {
		t.Fatalf("open = %d, want 1 on the secret", len(open))
	}
	all := open[0].Status.GitValue + open[0].Status.LiveValue
	if strings.Contains(all, "s3cret") || strings.Contains(all, "bGl2ZS1zM2NyZXQ") || strings.Contains(all, "ZnJvbS1naXQtczNjcmV0") {
		t.Fatalf("secret conflict stores %q / %q, want hashes only", open[0].Status.GitValue, open[0].Status.LiveValue)
	}
	// Keyed with the site's key, kept in a Secret in syncd's namespace
	// (issue 13, item 6): never a plain SHA-256, which anyone reading the
	// Conflict could check guessed passwords against.
	var keySecret corev1.Secret
	if !exists(t, c.Client, &keySecret, "syncd-system", conflict.ValueKeySecretName(site)) {
		t.Fatalf("no value key Secret %s in syncd-system", conflict.ValueKeySecretName(site))
	}
	key := keySecret.Data[conflict.ValueKeyData]
	for _, v := range []struct{ got, plain string }{
		{open[0].Status.GitValue, `"ZnJvbS1naXQtczNjcmV0"`},
		{open[0].Status.LiveValue, `"bGl2ZS1zM2NyZXQ="`},
	} {
		unsalted := sha256.Sum256([]byte(v.plain))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(v.plain))
		if want := "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil)); v.got != want || strings.Contains(v.got, hex.EncodeToString(unsalted[:])) {
			t.Errorf("secret value stored as %q, want %q (HMAC with the site's key)", v.got, want)
		}
	}
	// Events and logs carry the same keyed hashes, never the values.
	var events corev1.EventList
	if err := c.Client.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, "s3cret") || strings.Contains(e.Message, "ZnJvbS1naXQtczNjcmV0") || strings.Contains(e.Message, "bGl2ZS1zM2NyZXQ") {
			t.Errorf("event %s shows a secret value: %s", e.Reason, e.Message)
		}
	}
}

func objectMeta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name}
}

// fieldOwner reports whether manager owns any field of obj's main resource.
func fieldOwner(obj client.Object, manager string) bool {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == manager && mf.Subresource == "" {
			return true
		}
	}
	return false
}

// eventWith reports whether an Event in ns has reason and mentions text.
func eventWith(t *testing.T, c client.Client, ns, reason, text string) bool {
	t.Helper()
	var events corev1.EventList
	if err := c.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// openConflicts lists the reconciler's site's open conflicts.
func openConflicts(t *testing.T, r *Reconciler) []conflict.Conflict {
	t.Helper()
	all, err := r.conflicts.List(context.Background(), r.cfg.Site)
	if err != nil {
		t.Fatal(err)
	}
	var open []conflict.Conflict
	for _, c := range all {
		if c.Status.State == conflict.Open {
			open = append(open, c)
		}
	}
	return open
}

func TestConflictEditWithRealKubectl(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "cf-kubectl", "cf-kubectl"
	f := conflictFixture(t, site, ns, "git_wins", "")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	dir, err := testenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(dir, "kubectl"), "--kubeconfig", c.Kubeconfig, "-n", ns,
		"patch", "configmap", "web-config", "--type", "merge", "-p", `{"data":{"level":"trace"}}`).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl patch: %v: %s", err, out)
	}
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Forced != 1 {
		t.Fatalf("sync after kubectl patch: %+v, want 1 forced", got)
	}
	if !eventWith(t, c.Client, ns, "ConflictGitWins", "kubectl-patch") {
		t.Fatal("no event naming kubectl-patch, the manager kubectl records")
	}
	cm := configMap(ns)
	exists(t, c.Client, cm, ns, "web-config")
	if cm.Data["level"] != "info" {
		t.Fatalf("level = %q, want Git's info back", cm.Data["level"])
	}
}
