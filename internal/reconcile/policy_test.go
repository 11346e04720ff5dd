package reconcile

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/syncd-dev/syncd/internal/policy"
)

const policyFleet = fixtureFleet + `  policies:
    - name: pinned
      rule: "object.kind != 'Deployment' || object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))"
      severity: warn
    - name: no-privileged
      rule: "object.kind != 'Deployment' || object.spec.template.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))"
      severity: block
    - name: edge-only
      scope: "site.labels.class == 'edge'"
      rule: "false"
      severity: block
`

// A block-severity violation keeps the whole product as it is live (not
// applied, nothing pruned) and holds back its dependents; a warn-severity one
// is applied and reported.
func TestSyncPolicyGates(t *testing.T) {
	c := sharedCluster(t)
	const site = "pol"
	f := newFleetFixture(t, site)
	f.write("fleet.yaml", policyFleet)
	f.addProduct("web", "pol-web", "1.0.0", "registry.test/web:1")
	f.addProduct("api", "pol-api", "1.0.0", "registry.test/api:1", "web@1.0.0")
	r := newTestReconciler(t, c, site)

	rep := syncOnce(t, r, f.plan(site))
	if err := rep.Err(); err != nil {
		t.Fatalf("warn-only violations failed the sync: %v", err)
	}
	if score, ok := rep.Policy.Score(); !ok || score != 50 || rep.Policy.Applicable != 2 {
		t.Errorf("policy result %+v: want 1 of 2 applicable policies met (the scoped one does not apply)", rep.Policy)
	}
	if got := len(rep.Policy.Warnings("web")); got != 1 {
		t.Errorf("web has %d warnings, want 1: %+v", got, rep.Policy.Violations)
	}
	if !exists(t, c.Client, &appsv1.Deployment{}, "pol-web", "web") {
		t.Fatal("web was not applied despite only a warning")
	}

	// 2.0.0 of web runs privileged and drops its ConfigMap.
	f.addRelease("web", "pol-web", "2.0.0", "registry.test/web:2")
	f.write("products/web/releases/2.0.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	f.write("products/web/releases/2.0.0/deploy.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "registry.test/web:2", securityContext: {privileged: true}}
`)
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	rep = syncOnce(t, r, f.plan(site))
	web := result(t, rep, "web")
	var blocked *policy.BlockedError
	if !errors.As(web.Err, &blocked) || len(blocked.Violations) != 1 || blocked.Violations[0].Policy != "no-privileged" {
		t.Fatalf("web result %+v: want blocked by no-privileged", web)
	}
	if web.Pruned != 0 || !exists(t, c.Client, &corev1.ConfigMap{}, "pol-web", "web-config") {
		t.Error("a product blocked by policy was pruned")
	}
	d := &appsv1.Deployment{}
	exists(t, c.Client, d, "pol-web", "web")
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "registry.test/web:1" {
		t.Errorf("web image = %s: a product blocked by policy was applied", img)
	}
	if api := result(t, rep, "api"); api.Note == "" || api.Err != nil {
		t.Errorf("api result %+v: want held back behind blocked web", api)
	}
}
