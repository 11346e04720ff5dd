package fleet

import (
	"strings"
	"testing"
)

func TestHealthCheckEvaluate(t *testing.T) {
	repo := loadExample(t)
	checks := repo.Products["widget-operator"].Spec.HealthChecks
	if len(checks) != 1 {
		t.Fatalf("got %d health checks, want 1", len(checks))
	}
	h := &checks[0]
	if !h.Matches("widgets.example.com/v1alpha1", "Widget") || h.Matches("apps/v1", "Widget") {
		t.Error("Matches does not select by apiVersion and kind")
	}
	tests := []struct {
		object map[string]any
		want   HealthStatus
	}{
		{map[string]any{"status": map[string]any{"phase": "Ready"}}, HealthCurrent},
		{map[string]any{"status": map[string]any{"phase": "Failed"}}, HealthFailed},
		{map[string]any{"status": map[string]any{"phase": "Provisioning"}}, HealthInProgress},
		{map[string]any{"spec": map[string]any{"size": 3}}, HealthInProgress},
	}
	for _, tt := range tests {
		got, err := h.Evaluate(tt.object)
		if err != nil || got != tt.want {
			t.Errorf("Evaluate(%v) = %s, %v; want %s", tt.object, got, err, tt.want)
		}
	}
	if _, err := (&HealthCheck{Kind: "Widget", Current: "true"}).Evaluate(nil); err == nil || !strings.Contains(err.Error(), "not compiled") {
		t.Errorf("Evaluate of an uncompiled check: error = %v, want not compiled", err)
	}
}

// TestHealthCheckOrder checks Flux's order: a pending generation, then
// inProgress, failed and current; nothing true is InProgress.
func TestHealthCheckOrder(t *testing.T) {
	product := strings.Replace(baseFiles()["products/auth/product.yaml"], "  namespace: auth\n", `  namespace: auth
  healthChecks:
    - apiVersion: example.com/v1
      kind: Widget
      inProgress: "object.?status.phase.orValue('') == 'Upgrading'"
      failed: "object.?status.failures.orValue(0) > 0"
      current: "object.?status.phase.orValue('') in ['Ready', 'Upgrading']"
`, 1)
	repo := mustLoad(t, mapFS(baseFiles(), map[string]string{"products/auth/product.yaml": product}))
	h := &repo.Products["auth"].Spec.HealthChecks[0]
	obj := func(gen, observed int64, status map[string]any) map[string]any {
		status["observedGeneration"] = observed
		return map[string]any{"metadata": map[string]any{"generation": gen}, "status": status}
	}
	tests := []struct {
		name   string
		object map[string]any
		want   HealthStatus
	}{
		{"current", obj(2, 2, map[string]any{"phase": "Ready"}), HealthCurrent},
		{"inProgress wins over current", obj(2, 2, map[string]any{"phase": "Upgrading"}), HealthInProgress},
		{"failed wins over current", obj(2, 2, map[string]any{"phase": "Ready", "failures": int64(1)}), HealthFailed},
		{"generation not observed yet", obj(3, 2, map[string]any{"phase": "Ready"}), HealthInProgress},
		{"nothing true", obj(1, 1, map[string]any{"phase": "Pending"}), HealthInProgress},
		{"no status at all", map[string]any{"metadata": map[string]any{"generation": int64(1)}}, HealthInProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Evaluate(tt.object)
			if err != nil || got != tt.want {
				t.Errorf("Evaluate = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
