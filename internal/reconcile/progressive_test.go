package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/health"
)

// progressiveRelease is a release with the CRDs of Argo Rollouts and
// Flagger (testdata/crds), a Rollout and a Canary in namespace ns.
func progressiveRelease(t *testing.T, f *fleetFixture, dir, ns string) {
	t.Helper()
	for _, crd := range []string{"rollouts.argoproj.io.yaml", "canaries.flagger.app.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "crds", crd))
		if err != nil {
			t.Fatal(err)
		}
		f.write(dir+crd, string(data))
	}
	f.write(dir+"kustomization.yaml", "resources: [rollouts.argoproj.io.yaml, canaries.flagger.app.yaml, ns.yaml, rollout.yaml, canary.yaml]\n")
	f.write(dir+"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n")
	f.write(dir+"rollout.yaml", `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "registry.example.com/web:1.0.0"}
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {}}, {setWeight: 60}, {pause: {duration: 1m}}]
`)
	f.write(dir+"canary.yaml", `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: api}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  service: {port: 80}
  analysis: {interval: 1m, threshold: 5, maxWeight: 50, stepWeight: 10}
`)
}

// setStatus replaces the status of the custom resource apiVersion/kind
// ns/name, as its controller would. A Rollout's status.observedGeneration
// (a string) is set to the object's generation, or the one before when
// behind.
func setStatus(t *testing.T, c client.Client, apiVersion, kind, ns, name string, status map[string]any, behind bool) {
	t.Helper()
	ctx := context.Background()
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	st := map[string]any{}
	for k, v := range status {
		st[k] = v
	}
	if kind == "Rollout" {
		observed := obj.GetGeneration()
		if behind {
			observed--
		}
		st["observedGeneration"] = strconv.FormatInt(observed, 10)
	}
	obj.Object["status"] = st
	if err := c.Status().Update(ctx, obj); err != nil {
		t.Fatalf("setting the status of %s %s/%s: %v", kind, ns, name, err)
	}
}

// TestSyncBuiltinProgressiveDeliveryHealth drives an Argo Rollouts Rollout
// and a Flagger Canary through the states their controllers report, on a
// real API server with their CRDs, and checks the health syncd's built-in
// rules give the product: an aborted canary is ERROR, a paused or running
// one PROGRESSING, a finished one HEALTHY.
func TestSyncBuiltinProgressiveDeliveryHealth(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "progressive", "progressive"
	f := newFleetFixture(t, site)
	f.write("products/shop/product.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata: {name: shop}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: `+ns+`
`)
	progressiveRelease(t, f, "products/shop/releases/1.0.0/", ns)
	f.write("channels/shop.yaml", fixtureChannels("shop", "1.0.0"))
	r := newTestReconciler(t, c, site)

	// Neither controller runs here: without a status both are in progress
	// (kstatus alone would call them Current).
	if got := result(t, syncOnce(t, r, f.plan(site)), "shop"); got.Err != nil || got.Health != health.Progressing {
		t.Fatalf("fresh Rollout and Canary: %+v, want PROGRESSING", got)
	}

	healthyRollout := map[string]any{"phase": "Healthy", "currentPodHash": "5d7f9c", "stableRS": "5d7f9c"}
	succeededCanary := map[string]any{"phase": "Succeeded", "canaryWeight": int64(0)}
	tests := []struct {
		name     string
		rollout  map[string]any // Rollout status; nil keeps healthyRollout
		canary   map[string]any // Canary status; nil keeps succeededCanary
		bumpSpec bool           // another manager changes the Rollout's spec first
		want     health.State
		reason   string // in the reasons of a non-HEALTHY product
	}{
		{name: "rollout healthy, canary succeeded", want: health.Healthy},
		{name: "rollout progressing", rollout: map[string]any{"phase": "Progressing", "message": "more replicas need to be updated"},
			want: health.Progressing, reason: "Rollout/progressive/web: built-in health check: InProgress (phase Progressing: more replicas need to be updated)"},
		{name: "rollout paused at a canary step", rollout: map[string]any{"phase": "Paused", "message": "CanaryPauseStep",
			"pauseConditions": []any{map[string]any{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}}},
			want: health.Progressing, reason: "phase Paused: CanaryPauseStep"},
		{name: "rollout aborted", rollout: map[string]any{"phase": "Degraded", "abort": true,
			"message": "RolloutAborted: Rollout aborted update to revision 2: metric \"success-rate\" assessed Failed"},
			want: health.Error, reason: "Rollout/progressive/web: built-in health check: Failed (phase Degraded: RolloutAborted: Rollout aborted update to revision 2"},
		{name: "rollout back to healthy", want: health.Healthy},
		{name: "canary initializing", canary: map[string]any{"phase": "Initializing"}, want: health.Progressing, reason: "Canary/progressive/api"},
		{name: "canary initialized", canary: map[string]any{"phase": "Initialized"}, want: health.Healthy},
		{name: "canary progressing", canary: map[string]any{"phase": "Progressing", "canaryWeight": int64(10),
			"conditions": []any{map[string]any{"type": "Promoted", "status": "Unknown", "reason": "Progressing", "message": "New revision detected, progressing canary analysis."}}},
			want: health.Progressing, reason: "phase Progressing: New revision detected"},
		{name: "canary waiting for promotion", canary: map[string]any{"phase": "WaitingPromotion"}, want: health.Progressing},
		{name: "canary promoting", canary: map[string]any{"phase": "Promoting"}, want: health.Progressing},
		{name: "canary finalising", canary: map[string]any{"phase": "Finalising"}, want: health.Progressing},
		{name: "canary failed", canary: map[string]any{"phase": "Failed", "canaryWeight": int64(0),
			"conditions": []any{map[string]any{"type": "Promoted", "status": "False", "reason": "Failed", "message": "Canary analysis failed, Deployment scaled to zero."}}},
			want: health.Error, reason: "Canary/progressive/api: built-in health check: Failed (phase Failed: Canary analysis failed, Deployment scaled to zero.)"},
		{name: "canary succeeded", want: health.Healthy},
		{name: "rollout spec not observed yet", bumpSpec: true, want: health.Progressing, reason: "Rollout/progressive/web: built-in health check: InProgress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bumpSpec {
				pause := []byte(`{"spec":{"paused":true}}`)
				ro := &unstructured.Unstructured{}
				ro.SetAPIVersion("argoproj.io/v1alpha1")
				ro.SetKind("Rollout")
				ro.SetNamespace(ns)
				ro.SetName("web")
				if err := r.client.Patch(context.Background(), ro, client.RawPatch(types.MergePatchType, pause), client.FieldOwner("kubectl-argo-rollouts")); err != nil {
					t.Fatal(err)
				}
			}
			rollout, canary := tt.rollout, tt.canary
			if rollout == nil {
				rollout = healthyRollout
			}
			if canary == nil {
				canary = succeededCanary
			}
			setStatus(t, r.client, "argoproj.io/v1alpha1", "Rollout", ns, "web", rollout, tt.bumpSpec)
			setStatus(t, r.client, "flagger.app/v1beta1", "Canary", ns, "api", canary, false)
			plan := f.plan(site)
			if got := result(t, syncOnce(t, r, plan), "shop"); got.Err != nil || got.Health != tt.want {
				t.Fatalf("sync: %+v, want %s", got, tt.want)
			}
			// The reasons the daemon reports, from the same live objects.
			pp := planProduct(t, plan, "shop")
			rep := health.Of(pp.Objects, liveGetter(t, r.client), pp.HealthChecks...)
			if rep.State != tt.want {
				t.Fatalf("health.Of = %s %v, want %s", rep.State, rep.Reasons, tt.want)
			}
			if tt.reason != "" && !strings.Contains(strings.Join(rep.Reasons, "\n"), tt.reason) {
				t.Errorf("reasons %q do not say %q", rep.Reasons, tt.reason)
			}
		})
	}
}

// TestSyncProductHealthCheckOverridesBuiltin checks that a product's own
// rule for Rollout replaces the built-in one for that product.
func TestSyncProductHealthCheckOverridesBuiltin(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "progressive-own", "progressive-own"
	f := newFleetFixture(t, site)
	f.write("products/shop/product.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata: {name: shop}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: `+ns+`
  healthChecks:
  # This product's Rollouts may stay Degraded while a human looks.
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    current: "object.?status.phase.orValue('') in ['Healthy', 'Degraded']"
`)
	progressiveRelease(t, f, "products/shop/releases/1.0.0/", ns)
	f.write("channels/shop.yaml", fixtureChannels("shop", "1.0.0"))
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))
	setStatus(t, r.client, "flagger.app/v1beta1", "Canary", ns, "api", map[string]any{"phase": "Succeeded"}, false)
	setStatus(t, r.client, "argoproj.io/v1alpha1", "Rollout", ns, "web", map[string]any{"phase": "Degraded", "message": "RolloutAborted"}, false)
	if got := result(t, syncOnce(t, r, f.plan(site)), "shop"); got.Err != nil || got.Health != health.Healthy {
		t.Fatalf("Degraded Rollout under the product's own rule: %+v, want HEALTHY", got)
	}
	// The built-in rule still judges the Canary.
	setStatus(t, r.client, "flagger.app/v1beta1", "Canary", ns, "api", map[string]any{"phase": "Failed"}, false)
	if got := result(t, syncOnce(t, r, f.plan(site)), "shop"); got.Err != nil || got.Health != health.Error {
		t.Fatalf("failed Canary: %+v, want ERROR", got)
	}
}

func planProduct(t *testing.T, plan *Plan, name string) *ProductPlan {
	t.Helper()
	for i := range plan.Products {
		if plan.Products[i].Name == name {
			return plan.Products[i]
		}
	}
	t.Fatalf("no product %s in the plan", name)
	return nil
}

// liveGetter reads live objects from the API server for health.Of.
func liveGetter(t *testing.T, c client.Client) health.Live {
	return func(id object.ObjMetadata) *unstructured.Unstructured {
		obj := &unstructured.Unstructured{}
		mapping, err := c.RESTMapper().RESTMapping(id.GroupKind)
		if err != nil {
			t.Fatalf("mapping %s: %v", id.GroupKind, err)
		}
		obj.SetGroupVersionKind(mapping.GroupVersionKind)
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: id.Namespace, Name: id.Name}, obj); err != nil {
			return nil
		}
		return obj
	}
}
