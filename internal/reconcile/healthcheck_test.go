package reconcile

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestSyncHealthChecksReplaceKstatus drives a Widget through InProgress,
// Current and Failed by patching its status, and checks that the product's
// CEL health checks, not kstatus, decide its health.
func TestSyncHealthChecksReplaceKstatus(t *testing.T) {
	c := sharedCluster(t)
	const site, ns = "celhealth", "cel-health"
	f := newFleetFixture(t, site)
	f.write("products/widgets/product.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata: {name: widgets}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: `+ns+`
  healthChecks:
  - apiVersion: hc.example.com/v1
    kind: Widget
    inProgress: "object.?status.phase.orValue('') == 'Upgrading'"
    failed: "object.?status.phase.orValue('') == 'Failed'"
    current: "object.?status.phase.orValue('') == 'Ready'"
`)
	rel := "products/widgets/releases/1.0.0/"
	f.write(rel+"kustomization.yaml", "resources: [crd.yaml, ns.yaml, widget.yaml]\n")
	f.write(rel+"crd.yaml", testenv.CRD("hc.example.com", "Widget"))
	f.write(rel+"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n")
	f.write(rel+"widget.yaml", "apiVersion: hc.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n")
	f.write("channels/widgets.yaml", fixtureChannels("widgets", "1.0.0"))
	r := newTestReconciler(t, c, site)

	// kstatus would call a Widget without conditions Current; the check,
	// with no phase yet, says InProgress.
	if got := result(t, syncOnce(t, r, f.plan(site)), "widgets"); got.Err != nil || got.Health != health.Progressing {
		t.Fatalf("fresh widget: %+v, want PROGRESSING by its health check", got)
	}
	for _, step := range []struct {
		phase string
		want  health.State
	}{
		{"Ready", health.Healthy},
		{"Upgrading", health.Progressing},
		{"Failed", health.Error},
		{"Ready", health.Healthy},
	} {
		patchWidgetPhase(t, r.client, ns, "w", step.phase)
		if got := result(t, syncOnce(t, r, f.plan(site)), "widgets"); got.Err != nil || got.Health != step.want {
			t.Fatalf("phase %s: %+v, want %s", step.phase, got, step.want)
		}
	}
}

func patchWidgetPhase(t *testing.T, c client.Client, ns, name, phase string) {
	t.Helper()
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "hc.example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"status":   map[string]any{"phase": phase},
	}}
	if err := c.Status().Patch(context.Background(), w, client.Merge); err != nil {
		t.Fatalf("patching %s status to %s: %v", name, phase, err)
	}
}
