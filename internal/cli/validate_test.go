package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateExampleFleet(t *testing.T) {
	res := runSyncd(t, "validate", "--repo-dir", exampleFleet)
	if res.code != ExitOK || res.stdout != "" {
		t.Fatalf("validate of the example fleet: %v", res)
	}
	if !strings.Contains(res.stderr, "fleet repo is valid: 6 site(s), 6 product(s)") {
		t.Errorf("stderr = %q, want the summary", res.stderr)
	}
}

// TestValidateListsEveryProblem breaks several files at once: every problem
// is listed, each as file:line: field: message, in one run.
func TestValidateListsEveryProblem(t *testing.T) {
	dir := exampleCopy(t)
	at := func(name string) string { return filepath.Join(dir, name) }
	// An unknown field in a site.
	editFile(t, at("sites/onprem-dc1-prod/site.yaml"), "spec:\n", "spec:\n  chanel: dev\n")
	// A targets expression that does not compile.
	editFile(t, at("products/widget-operator/product.yaml"), `has(site.labels.widgets)"`, `has(site.labels.widgets"`)
	// A channel pointing to a release that does not exist.
	editFile(t, at("channels/auth-service.yaml"), "prod: 5.1.0", "prod: 5.9.0")
	// A release no channel points to yet that does not render.
	editFile(t, at("products/ingest-pipeline/releases/2.4.0/kustomization.yaml"), "- service.yaml", "- services.yaml")
	// A site Component that does not render.
	editFile(t, at("sites/edge-store-042/products/telemetry-agent/kustomization.yaml"), "low-footprint.yaml", "low-footprints.yaml")

	res := runSyncd(t, "validate", "--repo-dir", dir)
	if res.code != ExitDiff {
		t.Fatalf("exit %d, want 1: %v", res.code, res)
	}
	checkGolden(t, "validate-broken.txt", res.stdout)
	if !strings.Contains(res.stderr, "problem(s) found") {
		t.Errorf("stderr = %q, want a count", res.stderr)
	}
}

func TestValidateUsageErrors(t *testing.T) {
	res := runSyncd(t, "validate", "--repo-dir", filepath.Join(t.TempDir(), "nope"))
	if res.code != ExitError || !strings.Contains(res.stderr, "--repo-dir") {
		t.Fatalf("missing repo dir: %v", res)
	}
	res = runSyncd(t, "validate", "--repo-dir", exampleFleet, "extra")
	if res.code != ExitError {
		t.Fatalf("positional argument: %v", res)
	}
}

// TestValidateReportsBlockingPolicies: a rendered object that violates a
// block-severity policy of fleet.yaml is a problem at the file and line of
// the field that decided the rule, naming the policy and the object, for every site × product render (the
// releases a site runs and those it may run next); warn-severity violations
// (the example's images-pinned) are not problems.
func TestValidateReportsBlockingPolicies(t *testing.T) {
	dir := exampleCopy(t)
	at := func(name string) string { return filepath.Join(dir, name) }
	// edge-replica-cap: auth-service 5.1.0 runs at the edge store on prod.
	editFile(t, at("products/auth-service/releases/5.1.0/deployment.yaml"), "replicas: 2", "replicas: 3")
	// no-privileged-containers: widget-operator 0.3.0 is on dev only, and
	// is checked at every site the product targets.
	editFile(t, at("products/widget-operator/releases/0.3.0/deployment.yaml"), "          args:", "          securityContext: {privileged: true}\n          args:")

	res := runSyncd(t, "validate", "--repo-dir", dir)
	if res.code != ExitDiff {
		t.Fatalf("exit %d, want 1: %v", res.code, res)
	}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		if !strings.Contains(line, ": blocked by policy ") {
			t.Errorf("problem %q is not a policy violation", line)
		}
	}
	checkGolden(t, "validate-policy.txt", res.stdout)
}
