package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestAppliedChanged(t *testing.T) {
	base := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "a", "resourceVersion": "1", "generation": int64(1),
				"labels": map[string]any{"app": "web"}, "managedFields": []any{map[string]any{"manager": "syncd"}}},
			"spec":   map[string]any{"replicas": int64(1)},
			"status": map[string]any{"readyReplicas": int64(0)},
		}}
	}
	tests := []struct {
		name   string
		change func(u *unstructured.Unstructured)
		want   bool
	}{
		{"nothing (a relist)", func(*unstructured.Unstructured) {}, false},
		{"status only", func(u *unstructured.Unstructured) {
			u.SetResourceVersion("2")
			_ = unstructured.SetNestedField(u.Object, int64(1), "status", "readyReplicas")
		}, false},
		{"managed fields only", func(u *unstructured.Unstructured) {
			u.SetResourceVersion("2")
			u.Object["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "syncd"}, map[string]any{"manager": "other"}}
		}, false},
		{"spec", func(u *unstructured.Unstructured) {
			u.SetResourceVersion("2")
			u.SetGeneration(2)
			_ = unstructured.SetNestedField(u.Object, int64(4), "spec", "replicas")
		}, true},
		{"label (no new generation)", func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"app": "other"}) }, true},
		{"annotation added", func(u *unstructured.Unstructured) { u.SetAnnotations(map[string]string{"a": "b"}) }, true},
		{"data of a kind without spec", func(u *unstructured.Unstructured) { u.Object["data"] = map[string]any{"k": "v"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := base(), base()
			tt.change(cur)
			if got := appliedChanged(old, cur); got != tt.want {
				t.Fatalf("appliedChanged = %v, want %v", got, tt.want)
			}
			// The watches' caches hold trimmed objects: same answers.
			if got := appliedChanged(trimmed(old), trimmed(cur)); got != tt.want {
				t.Fatalf("appliedChanged of trimmed objects = %v, want %v", got, tt.want)
			}
			if got := appliedChanged(trimmed(old), cur); got != tt.want {
				t.Fatalf("appliedChanged of a trimmed and a whole object = %v, want %v", got, tt.want)
			}
		})
	}
}

// writeSlowProduct adds to web's release a Deployment that never becomes
// ready: the cluster runs no controllers, so its status never comes.
func writeSlowProduct(t *testing.T, dir string) {
	t.Helper()
	rel := filepath.Join(dir, "products/web/releases/1.0.0")
	files := map[string]string{
		"kustomization.yaml": "resources: [ns.yaml, cm.yaml, deploy.yaml]\n",
		"deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 1
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec: {containers: [{name: app, image: registry.example/slow:1}]}
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(rel, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Drift correction never waits behind slow work (issue 13, item 2): while
// the first full reconcile waits up to an hour for a Deployment that never
// becomes ready, an out-of-band edit of another object is undone within
// seconds, and a new revision cancels the wait and is applied at once.
func TestDriftCorrectedDuringLongHealthWaitAndNewRevisionCancelsIt(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-healthwait"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	writeSlowProduct(t, src.dir)
	d, _ := runDaemonWith(t, c, cl, src, Config{Site: site, Interval: time.Hour, HealthTimeout: time.Hour})
	eventually(t, 60*time.Second, "first apply", func() bool { l, _ := level(t, cl, site); return l == "info" })
	inHealthWait := func() bool { return d.state.Load() == nil }
	if !inHealthWait() {
		t.Fatal("the first reconcile ended: the health wait of an hour did not run")
	}

	// The watch of ConfigMaps starts before the health wait; an edit made
	// before its first list is seen by that list.
	edit := func(value string) {
		var cm corev1.ConfigMap
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["level"] = value
		if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		edit("debug")
		took := eventually(t, 60*time.Second, "edit corrected during the health wait", func() bool { l, _ := level(t, cl, site); return l == "info" })
		t.Logf("out-of-band edit %d corrected after %s during the health wait", i+1, took)
	}
	// The recorder counts repeats in one Event rather than one per fight.
	eventually(t, 30*time.Second, "one DriftCorrected Event counting the 3 corrections", func() bool {
		var evs corev1.EventList
		if err := cl.List(context.Background(), &evs, client.InNamespace(site)); err != nil {
			t.Fatal(err)
		}
		var got []corev1.Event
		for _, e := range evs.Items {
			if e.Reason == "DriftCorrected" && e.InvolvedObject.Name == "web-config" {
				got = append(got, e)
			}
		}
		if len(got) > 1 {
			t.Fatalf("%d DriftCorrected Events on web-config, want one counting repeats", len(got))
		}
		return len(got) == 1 && got[0].Count >= 3 && got[0].ReportingController == eventReporter && got[0].Source.Component == "syncd"
	})
	if !inHealthWait() {
		t.Fatal("the health wait ended before the edit was corrected: the test proves nothing")
	}

	// A new revision: the wait of the first is cancelled, the second applied.
	cm := filepath.Join(src.dir, "products/web/releases/1.0.0/cm.yaml")
	if err := os.WriteFile(cm, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src.rev.Add(1)
	d.Trigger() // as the Git webhook does
	took := eventually(t, 60*time.Second, "new revision applied", func() bool { l, _ := level(t, cl, site); return l == "warn" })
	t.Logf("new revision applied %s after the trigger, the first health wait cancelled", took)
	eventually(t, 30*time.Second, "the first reconcile recorded", func() bool { return !inHealthWait() })
}
