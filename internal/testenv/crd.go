package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CRD is the manifest of a namespaced custom resource definition of kind in
// group (version v1, plural the lower-case kind plus "s"), with a status
// subresource and no schema of its own. With no health check for it,
// kstatus judges its objects by their conditions: a Gadget whose Stalled
// condition is True (SetGadgetStalled) is Failed, and its product ERROR.
func CRD(group, kind string) string {
	plural := strings.ToLower(kind) + "s"
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ` + plural + "." + group + `}
spec:
  group: ` + group + `
  scope: Namespaced
  names: {plural: ` + plural + `, singular: ` + strings.ToLower(kind) + `, kind: ` + kind + `, listKind: ` + kind + `List}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`
}

// SetGadgetStalled sets the Stalled condition of the Gadget ns/name of
// group (CRD(group, "Gadget")) to status ("True" or "False") with message,
// through the status subresource, as its controller or an admin would.
func SetGadgetStalled(t testing.TB, c client.Client, group, ns, name, status, message string) {
	t.Helper()
	g := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"status": map[string]any{"conditions": []any{map[string]any{
			"type": "Stalled", "status": status, "reason": "Broken", "message": message,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}},
	}}
	if err := c.Status().Patch(context.Background(), g, client.Merge); err != nil {
		t.Fatalf("setting Gadget %s/%s Stalled=%s: %v", ns, name, status, err)
	}
}
