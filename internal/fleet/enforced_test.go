package fleet

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// enforcedBy names, for every field the fleet format accepts, the code that
// acts on it: a field we accept is a field we enforce (SPEC §2.1). A new
// field fails TestEveryFieldIsEnforced until it is listed here, with its
// enforcement or with the "not supported yet" error Load gives.
var enforcedBy = map[string]string{
	"Fleet.spec.channels[]":                                             "fleet validation, Resolve",
	"Fleet.spec.conflictStrategy":                                       "Repo.ConflictStrategy -> conflict.Rules",
	"Fleet.spec.rollout.maxSitesPercentPerHour":                         "gate.Turn via reconcile gating",
	"Fleet.spec.freeze.reason":                                          "gate.Decide (status reason)",
	"Fleet.spec.reports.refresh":                                        "status.Publisher.SetRefresh via reconcile.Plan.ReportRefresh (daemon)",
	"Fleet.spec.reports.staleAfter":                                     "promote.staleAfter, syncd fleet status",
	"Fleet.spec.reports.requireSigned":                                  "status.ReportTrust.Check via cli trustedReports (promote, fleet status)",
	"Fleet.spec.freeze.until":                                           "Freeze.InForce: gate.Decide, promote",
	"Fleet.spec.policies[].name":                                        "policy.Evaluate (violations)",
	"Fleet.spec.policies[].scope":                                       "Policy.AppliesTo via policy.Evaluate",
	"Fleet.spec.policies[].rule":                                        "Policy.Allows via policy.Evaluate",
	"Fleet.spec.policies[].severity":                                    "reconcile checkPolicies (block) and reports (warn)",
	"Fleet.spec.criteria.healthyThreshold":                              "promote.Evaluate",
	"Fleet.spec.criteria.unhealthyThreshold":                            "promote.Evaluate",
	"Fleet.spec.pipelines[].product":                                    "Fleet.PipelineFor",
	"Fleet.spec.pipelines[].maintenanceWindow.schedule":                 "promote.Evaluate",
	"Fleet.spec.pipelines[].maintenanceWindow.duration":                 "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].from":                              "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].to":                                "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].approval":                          "promote (pull-request branch)",
	"Fleet.spec.pipelines[].stages[].timed.duration":                    "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.sites.withLabels":           "SiteSelector.Matches",
	"Fleet.spec.pipelines[].stages[].canary.sites.withoutLabels":        "SiteSelector.Matches",
	"Fleet.spec.pipelines[].stages[].canary.sites.include[]":            "SiteSelector.Matches",
	"Fleet.spec.pipelines[].stages[].canary.sites.exclude[]":            "SiteSelector.Matches",
	"Fleet.spec.pipelines[].stages[].canary.promoteWhenHealthy.sites":   "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.promoteWhenHealthy.percent": "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.promoteWhenHealthy.soak":    "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.recallWhenUnhealthy.sites":  "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.recallWhenUnhealthy.soak":   "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.minSites":                   "promote.Evaluate",
	"Fleet.spec.pipelines[].stages[].canary.requireReleaseLabels":       "promote.Evaluate",
	"Site.spec.channel":                                                 "Resolve",
	"Site.spec.conflictStrategy":                                        "Repo.ConflictStrategy",
	"Site.spec.conflictRules[].group":                                   "conflict.Rules",
	"Site.spec.conflictRules[].kind":                                    "conflict.Rules",
	"Site.spec.conflictRules[].namespace":                               "conflict.Rules",
	"Site.spec.conflictRules[].name":                                    "conflict.Rules",
	"Site.spec.conflictRules[].path":                                    "conflict.Rules",
	"Site.spec.conflictRules[].manager":                                 "conflict.Rules",
	"Site.spec.conflictRules[].strategy":                                "conflict.Rules",
	"Site.spec.maintenanceWindows[].schedule":                           "gate.Decide",
	"Site.spec.maintenanceWindows[].duration":                           "gate.Decide",
	"Site.spec.freeze":                                                  "gate.Decide, promote",
	"Site.spec.products{}.channel":                                      "Resolve",
	"Site.spec.products{}.maxVersion":                                   "Resolve",
	"Channels.spec":                                                     "Resolve",
	"Release.spec.recalled":                                             "Resolve, gate (recall roll-off)",
	"Product.spec.targets":                                              "Repo.ProductsFor",
	"Product.spec.namespace":                                            "render (namespace)",
	"Product.spec.conflictStrategy":                                     "Repo.ConflictStrategy",
	"Product.spec.dependencies[].product":                               "Repo.DependencyOrder, reconcile holdBack",
	"Product.spec.dependencies[].minVersion":                            "reconcile holdBack, promote",
	"Product.spec.forceRecreate":                                        "apply.Options.ForceRecreate",
	"Product.spec.healthChecks[].apiVersion":                            "health.Of",
	"Product.spec.healthChecks[].kind":                                  "health.Of",
	"Product.spec.healthChecks[].inProgress":                            "health.Of",
	"Product.spec.healthChecks[].failed":                                "health.Of",
	"Product.spec.healthChecks[].current":                               "health.Of",
	"Product.spec.signing.keys[]":                                       "verify.Verifier via reconcile.verifyImages (blocked without a verifier)",
	"Release.spec.reason":                                               "Resolve (reason), status",
}

// metaFields are apiVersion, kind and metadata, checked for every file.
var metaFields = []string{"apiVersion", "kind", "metadata.name", "metadata.labels", "metadata.annotations"}

// fieldPaths lists the JSON paths of the leaves of t.
func fieldPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Duration]() || t == reflect.TypeFor[time.Time]():
		*out = append(*out, prefix)
	case t.Kind() == reflect.Struct:
		for name, ft := range jsonFields(t) {
			fieldPaths(ft, prefix+"."+name, out)
		}
	case t.Kind() == reflect.Slice:
		fieldPaths(t.Elem(), prefix+"[]", out)
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		fieldPaths(t.Elem(), prefix+"{}", out)
	default:
		*out = append(*out, prefix)
	}
}

func TestEveryFieldIsEnforced(t *testing.T) {
	var paths []string
	for _, typ := range []reflect.Type{reflect.TypeFor[Fleet](), reflect.TypeFor[Site](), reflect.TypeFor[Product](),
		reflect.TypeFor[Channels](), reflect.TypeFor[Release]()} {
		fieldPaths(typ, typ.Name(), &paths)
	}
	slices.Sort(paths)
	seen := map[string]bool{}
	for _, p := range paths {
		_, rest, _ := strings.Cut(p, ".")
		if slices.Contains(metaFields, rest) {
			continue
		}
		seen[p] = true
		if _, ok := enforcedBy[p]; !ok {
			t.Errorf("%s is accepted by the fleet format but nothing is listed as enforcing it: enforce it (and list it in enforcedBy) or make Load fail with \"not supported yet\"", p)
		}
	}
	for p := range enforcedBy {
		if !seen[p] {
			t.Errorf("enforcedBy lists %s, which the fleet format does not have", p)
		}
	}
}
