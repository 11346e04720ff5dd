package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// scaleAs sets the Deployment's replicas through its /scale subresource as
// manager, as `kubectl scale` (manager kubectl-scale) and an HPA do.
func scaleAs(t *testing.T, c *testenv.Cluster, ns, name, manager string, replicas int32) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = replicas
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, name, &autoscalingv1.Scale{ObjectMeta: sc.ObjectMeta, Spec: sc.Spec}, metav1.UpdateOptions{FieldManager: manager}); err != nil {
		t.Fatal(err)
	}
}

// diffOf diffs the plan and fails the test on any change that is drift;
// it returns the conflict entries (yielded or held) on /spec/replicas.
func diffOf(t *testing.T, r *Reconciler, plan *Plan) []diff.Change {
	t.Helper()
	changes, err := r.Diff(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	var out []diff.Change
	for _, ch := range changes {
		if ch.Action.Differs() {
			t.Errorf("diff reports %s %s as %s: %s", ch.Product, ch.Object, ch.Action, ch.Diff)
		}
		if strings.HasSuffix(ch.Object, "/spec/replicas") {
			out = append(out, ch)
		}
	}
	return out
}

// A `kubectl scale` writes replicas through /scale: each strategy treats it
// as it treats `kubectl edit`.
func TestConflictThroughScaleSubresource(t *testing.T) {
	c := sharedCluster(t)
	tests := []struct {
		strategy, rules string
		wantReplicas    int32
		check           func(t *testing.T, r *Reconciler, got Result, changes []diff.Change)
	}{
		{strategy: "manual", wantReplicas: 4, check: func(t *testing.T, r *Reconciler, got Result, changes []diff.Change) {
			open := openConflicts(t, r)
			if got.Held != 1 || len(open) != 1 {
				t.Fatalf("sync: %+v, %d open conflicts; want 1 held", got, len(open))
			}
			if s := open[0].Spec; s.Field != "/spec/replicas" || s.Manager != "kubectl-scale" || open[0].Status.GitValue != "1" || open[0].Status.LiveValue != "4" {
				t.Fatalf("conflict = %+v %+v", s, open[0].Status)
			}
			if len(changes) != 1 || changes[0].Action != diff.Held || !strings.Contains(changes[0].Diff, "kubectl-scale through /scale") {
				t.Fatalf("diff = %+v, want replicas held for kubectl-scale through /scale", changes)
			}
		}},
		{strategy: "git_wins", rules: "  conflictRules:\n  - {kind: Deployment, path: /spec/replicas, manager: kubectl-scale, strategy: server_wins}\n", wantReplicas: 4,
			check: func(t *testing.T, r *Reconciler, got Result, changes []diff.Change) {
				if got.Yielded != 1 || got.Forced != 0 {
					t.Fatalf("sync: %+v, want 1 yielded", got)
				}
				if len(changes) != 1 || changes[0].Action != diff.Yielded || !strings.Contains(changes[0].Diff, "live 4 (manager kubectl-scale through /scale)") {
					t.Fatalf("diff = %+v, want replicas yielded to kubectl-scale", changes)
				}
			}},
		{strategy: "git_wins", wantReplicas: 1, check: func(t *testing.T, r *Reconciler, got Result, changes []diff.Change) {
			if got.Forced != 1 {
				t.Fatalf("sync: %+v, want 1 forced", got)
			}
			if len(changes) != 0 {
				t.Fatalf("diff after git_wins = %+v, want nothing on replicas", changes)
			}
			if !eventWith(t, r.client, r.cfg.Site, "ConflictGitWins", "kubectl-scale") {
				t.Fatal("no ConflictGitWins event naming kubectl-scale")
			}
		}},
	}
	for i, tt := range tests {
		name := tt.strategy
		if tt.rules != "" {
			name += "-rule"
		}
		t.Run(name, func(t *testing.T) {
			site := []string{"sc-manual", "sc-rule", "sc-gitwins"}[i]
			f := conflictFixture(t, site, site, tt.strategy, tt.rules)
			r := newTestReconciler(t, c, site)
			syncOnce(t, r, f.plan(site))

			scaleAs(t, c, site, "web", "kubectl-scale", 4)
			// Git changes the image meanwhile: it is applied whatever
			// happens to replicas.
			f.addRelease("web", site, "1.1.0", "registry.example.com/web:1.1.0")
			f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
			rep := syncOnce(t, r, f.plan(site))
			got := result(t, rep, "web")
			if got.Err != nil {
				t.Fatal(got.Err)
			}
			dep := &appsv1.Deployment{}
			exists(t, c.Client, dep, site, "web")
			if *dep.Spec.Replicas != tt.wantReplicas || dep.Spec.Template.Spec.Containers[0].Image != "registry.example.com/web:1.1.0" {
				t.Fatalf("replicas=%d image=%s, want %d and Git's image", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image, tt.wantReplicas)
			}
			tt.check(t, r, got, diffOf(t, r, f.plan(site)))

			// Stable: the next sync decides the same and applies nothing.
			rep = syncOnce(t, r, f.plan(site))
			if again := result(t, rep, "web"); again.Created+again.Configured != 0 || again.Forced != 0 {
				t.Fatalf("re-sync: %+v, want nothing applied", again)
			}
		})
	}
}

// A real HorizontalPodAutoscaler (kube-controller-manager) owns replicas
// through /scale: the SPEC's server_wins rule for it keeps its value, and
// diff shows the field as yielded.
func TestConflictServerWinsForRealHPA(t *testing.T) {
	c := fullCluster(t)
	const site, ns = "sc-hpa", "sc-hpa"
	f := conflictFixture(t, site, ns, "manual",
		"  conflictRules:\n  - {kind: Deployment, path: /spec/replicas, manager: kube-controller-manager, strategy: server_wins}\n")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			// Below minReplicas the HPA scales up without reading metrics.
			MinReplicas: ptr.To[int32](3), MaxReplicas: 5,
		},
	}
	if err := c.Client.Create(context.Background(), hpa); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		exists(t, c.Client, dep, ns, "web")
		return *dep.Spec.Replicas == 3, nil
	})
	if err != nil {
		t.Fatalf("the HPA did not scale web to 3: replicas %d: %v", *dep.Spec.Replicas, err)
	}
	if !ownsThrough(dep, "kube-controller-manager", "scale") {
		t.Fatalf("managed fields %+v: want kube-controller-manager through /scale", dep.GetManagedFields())
	}

	f.addRelease("web", ns, "1.1.0", "registry.example.com/web:1.1.0")
	f.write("channels/web.yaml", fixtureChannels("web", "1.1.0"))
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Yielded != 1 || got.Held != 0 || got.Err != nil {
		t.Fatalf("sync: %+v, want replicas yielded to the HPA", got)
	}
	exists(t, c.Client, dep, ns, "web")
	if *dep.Spec.Replicas != 3 || dep.Spec.Template.Spec.Containers[0].Image != "registry.example.com/web:1.1.0" {
		t.Fatalf("replicas=%d image=%s, want the HPA's 3 and Git's image", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
	}
	changes := diffOf(t, r, f.plan(site))
	if len(changes) != 1 || changes[0].Action != diff.Yielded || !strings.Contains(changes[0].Diff, "kube-controller-manager through /scale") {
		t.Fatalf("diff = %+v, want replicas yielded to the HPA", changes)
	}
	if n := len(openConflicts(t, r)); n != 0 {
		t.Fatalf("%d open conflicts, want none: the rule yields", n)
	}
}

// ownsThrough reports whether manager owns fields of obj through subresource.
func ownsThrough(obj metav1.Object, manager, subresource string) bool {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == manager && mf.Subresource == subresource {
			return true
		}
	}
	return false
}
