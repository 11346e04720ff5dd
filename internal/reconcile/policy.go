package reconcile

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/policy"
)

// checkPolicies evaluates the fleet's policies over the rendered products
// and blocks each product that violates a block-severity policy: it is
// neither applied nor pruned. Products that failed earlier are not
// evaluated. It returns nil when the fleet has no policy.
func checkPolicies(policies []fleet.Policy, site *fleet.Site, byName map[string]*ProductPlan) *policy.Result {
	if len(policies) == 0 {
		return nil
	}
	rendered := map[string][]*unstructured.Unstructured{}
	for name, pp := range byName {
		if pp.Err == nil && pp.Version != "" {
			rendered[name] = pp.Objects
		}
	}
	res := policy.Evaluate(policies, site, rendered)
	LocateViolations(res.Violations, byName)
	for name := range rendered {
		if blocking := res.Blocking(name); len(blocking) > 0 {
			byName[name].Err = &policy.BlockedError{Violations: blocking}
		}
	}
	return res
}

// LocateViolations sets the Source of each violation: the file and line of
// the field that decided the rule, or of the object when the field is not
// in the file. byName holds the products' rendered objects and sources.
func LocateViolations(vs []policy.Violation, byName map[string]*ProductPlan) {
	for i := range vs {
		pp := byName[vs[i].Product]
		if pp == nil {
			continue
		}
		for _, o := range pp.Objects {
			if policy.Describe(o) != vs[i].Object {
				continue
			}
			if src, ok := pp.Sources.Of(o); ok {
				at := src.At(vs[i].Field, nil)
				vs[i].Source = fmt.Sprintf("%s:%d", at.File, at.Line)
			}
			break
		}
	}
}

// reportWarnings writes one progress line per warn-severity violation: the
// product is applied all the same.
func (r *Reconciler) reportWarnings(res *policy.Result) {
	if res == nil {
		return
	}
	for _, v := range res.Violations {
		if v.Severity == fleet.SeverityWarn {
			r.progressf("warning: %s", v)
		}
	}
}
