package fleet

import (
	"strings"
	"testing"
)

// builtinFor returns the first check of checks that matches apiVersion and
// kind.
func builtinFor(t *testing.T, checks []HealthCheck, apiVersion, kind string) *HealthCheck {
	t.Helper()
	for i := range checks {
		if checks[i].Matches(apiVersion, kind) {
			return &checks[i]
		}
	}
	t.Fatalf("no health check for %s %s", apiVersion, kind)
	return nil
}

// TestBuiltinHealthChecks evaluates the built-in rules on the statuses
// their controllers write. The same states are checked against a real API
// server in internal/reconcile (TestSyncBuiltinProgressiveDeliveryHealth).
func TestBuiltinHealthChecks(t *testing.T) {
	repo := mustLoad(t, mapFS(baseFiles(), nil))
	checks := repo.HealthChecks(repo.Products["auth"])
	obj := func(generation int64, spec, status map[string]any) map[string]any {
		o := map[string]any{"metadata": map[string]any{"generation": generation}, "spec": spec}
		if status != nil {
			o["status"] = status
		}
		return o
	}
	canary := map[string]any{"canary": map[string]any{}}
	aborted := []any{map[string]any{"type": "Progressing", "status": "False", "reason": "RolloutAborted"}}
	workloadRef := map[string]any{"workloadRef": map[string]any{"kind": "Deployment", "name": "web"}}
	withAnnotation := func(o map[string]any, gen string) map[string]any {
		o["metadata"].(map[string]any)["annotations"] = map[string]any{"rollout.argoproj.io/workload-generation": gen}
		return o
	}
	tests := []struct {
		name       string
		apiVersion string
		kind       string
		object     map[string]any
		want       HealthStatus
	}{
		{"rollout without status", "argoproj.io/v1alpha1", "Rollout", obj(1, canary, nil), HealthInProgress},
		{"rollout healthy", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": "2", "phase": "Healthy"}), HealthCurrent},
		{"rollout progressing", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": "2", "phase": "Progressing"}), HealthInProgress},
		{"rollout paused", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": "2", "phase": "Paused"}), HealthInProgress},
		{"rollout degraded", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": "2", "phase": "Degraded"}), HealthFailed},
		{"rollout generation not observed", "argoproj.io/v1alpha1", "Rollout", obj(3, canary, map[string]any{"observedGeneration": "2", "phase": "Healthy"}), HealthInProgress},
		{"rollout numeric observedGeneration", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": int64(2), "phase": "Healthy"}), HealthCurrent},
		{"rollout v0.9 hash observedGeneration", "argoproj.io/v1alpha1", "Rollout", obj(2, canary, map[string]any{"observedGeneration": "7d6f5b8c9", "phase": "Healthy"}), HealthCurrent},
		{"rollout workload generation not observed", "argoproj.io/v1alpha1", "Rollout",
			withAnnotation(obj(1, workloadRef, map[string]any{"observedGeneration": "1", "phase": "Healthy", "workloadObservedGeneration": "3"}), "4"), HealthInProgress},
		{"rollout workload generation observed", "argoproj.io/v1alpha1", "Rollout",
			withAnnotation(obj(1, workloadRef, map[string]any{"observedGeneration": "1", "phase": "Healthy", "workloadObservedGeneration": "4"}), "4"), HealthCurrent},
		{"rollout before v1.0 aborted", "argoproj.io/v1alpha1", "Rollout", obj(1, canary, map[string]any{"conditions": aborted}), HealthFailed},
		{"rollout before v1.0 invalid spec", "argoproj.io/v1alpha1", "Rollout",
			obj(1, canary, map[string]any{"conditions": []any{map[string]any{"type": "InvalidSpec", "status": "True"}}}), HealthFailed},
		{"rollout before v1.0 otherwise", "argoproj.io/v1alpha1", "Rollout", obj(1, canary, map[string]any{"currentPodHash": "abc"}), HealthInProgress},
		{"canary without status", "flagger.app/v1beta1", "Canary", obj(1, nil, nil), HealthInProgress},
		{"canary initializing", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Initializing"}), HealthInProgress},
		{"canary initialized", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Initialized"}), HealthCurrent},
		{"canary progressing", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Progressing", "canaryWeight": int64(10)}), HealthInProgress},
		{"canary waiting promotion", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "WaitingPromotion"}), HealthInProgress},
		{"canary succeeded", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Succeeded"}), HealthCurrent},
		{"canary failed", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Failed"}), HealthFailed},
		{"canary unknown phase", "flagger.app/v1beta1", "Canary", obj(1, nil, map[string]any{"phase": "Rebooting"}), HealthInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := builtinFor(t, checks, tt.apiVersion, tt.kind)
			if !h.Builtin() {
				t.Fatalf("the check for %s %s is not built in", tt.apiVersion, tt.kind)
			}
			got, err := h.Evaluate(tt.object)
			if err != nil || got != tt.want {
				t.Errorf("Evaluate = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestProductHealthChecksOverrideBuiltins checks that a product's own rule
// for Rollout comes before the built-in one, and that other products keep
// the built-in rule.
func TestProductHealthChecksOverrideBuiltins(t *testing.T) {
	product := strings.Replace(baseFiles()["products/auth/product.yaml"], "  namespace: auth\n", `  namespace: auth
  healthChecks:
    - apiVersion: argoproj.io/v1alpha1
      kind: Rollout
      current: "true"
`, 1)
	repo := mustLoad(t, mapFS(baseFiles(), map[string]string{"products/auth/product.yaml": product}))
	degraded := map[string]any{"status": map[string]any{"phase": "Degraded"}}
	h := builtinFor(t, repo.HealthChecks(repo.Products["auth"]), "argoproj.io/v1alpha1", "Rollout")
	if got, err := h.Evaluate(degraded); h.Builtin() || err != nil || got != HealthCurrent {
		t.Errorf("product rule: builtin %v, Evaluate = %s, %v; want the product's rule, Current", h.Builtin(), got, err)
	}
	if n := len(repo.HealthChecks(repo.Products["auth"])); n != 1+len(builtinHealthChecks()) {
		t.Errorf("HealthChecks has %d rules, want the product's and the built-in ones", n)
	}
}
