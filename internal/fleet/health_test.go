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
