package fleet

import (
	"fmt"

	"github.com/google/cel-go/cel"
)

// Severity says what a policy violation does to its product.
type Severity string

// Severities of a policy (SPEC §7).
const (
	// SeverityBlock keeps the product from being applied (nothing of it is
	// pruned either).
	SeverityBlock Severity = "block"
	// SeverityWarn applies the product and reports the violation.
	SeverityWarn Severity = "warn"
)

// Policy is a pre-apply gate of fleet.yaml: a CEL rule every rendered object
// of a site must meet, at the sites its scope selects.
type Policy struct {
	// Name identifies the policy in reports.
	Name string `json:"name"`
	// Scope is a CEL expression over `site` (as in product targets) that
	// selects the sites the policy applies to; empty applies to all.
	Scope string `json:"scope,omitempty"`
	// Rule is a CEL expression over `object` (the rendered object, as a map)
	// and `site` that is true when the object meets the policy.
	Rule string `json:"rule"`
	// Severity is SeverityBlock or SeverityWarn. Load sets SeverityBlock
	// when empty.
	Severity Severity `json:"severity,omitempty"`

	scope, rule cel.Program
	ruleAST     *cel.Ast // the checked rule, for Field
	env         *cel.Env // the rule's environment
	line        int      // of the policy in fleet.yaml
	index       int      // in spec.policies
	fieldLines  map[string]int
}

// AppliesTo reports whether the policy's scope selects site.
func (p *Policy) AppliesTo(site *Site) (bool, error) {
	if p.Scope == "" {
		return true, nil
	}
	if p.scope == nil {
		return false, p.notCompiled()
	}
	ok, err := evalBool(p.scope, map[string]any{"site": celSite(site)})
	if err != nil {
		return false, p.errorf("scope", "site %s: %v", site.Name, err)
	}
	return ok, nil
}

// Allows reports whether object (a rendered object, as unstructured
// content) meets the policy's rule at site. The policy must come from Load.
func (p *Policy) Allows(object map[string]any, site *Site) (bool, error) {
	if p.rule == nil {
		return false, p.notCompiled()
	}
	ok, err := evalBool(p.rule, map[string]any{"object": object, "site": celSite(site)})
	if err != nil {
		return false, p.errorf("rule", "%v", err)
	}
	return ok, nil
}

// Line is the line of the policy in fleet.yaml; 0 when it did not come from
// Load.
func (p *Policy) Line() int { return p.line }

func (p *Policy) notCompiled() error {
	return p.errorf("", "expressions are not compiled; load the fleet with fleet.Load")
}

// errorf returns an error at field of the policy (its rule or scope) in
// fleet.yaml, or at the policy itself when field is empty.
func (p *Policy) errorf(field, format string, args ...any) *Error {
	f, line := fmt.Sprintf("spec.policies[%d]", p.index), p.line
	if field != "" {
		f += "." + field
		if l := p.fieldLines[field]; l > 0 {
			line = l
		}
	}
	return &Error{File: fleetFile, Line: line, Field: f, Msg: fmt.Sprintf("policy %s: %s", p.Name, fmt.Sprintf(format, args...))}
}

// celSite is the `site` variable of CEL expressions over a site.
func celSite(site *Site) targetSite {
	labels := site.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return targetSite{Name: site.Name, Labels: labels}
}

// checkPolicies validates the policies at p and compiles their expressions.
func (d *document) checkPolicies(p fieldPath, policies []Policy, envs *celEnvs) {
	seen := make(map[string]bool, len(policies))
	for i := range policies {
		pol := &policies[i]
		pp := p.index(i)
		pol.line, pol.index = d.line(pp), i
		pol.fieldLines = map[string]int{"rule": d.line(pp.child("rule")), "scope": d.line(pp.child("scope"))}
		if d.checkName(pp.child("name"), pol.Name) {
			if seen[pol.Name] {
				d.errorf(pp.child("name"), "duplicate policy %q", pol.Name)
			}
			seen[pol.Name] = true
		}
		if pol.Scope != "" {
			pol.scope = d.compileBool(envs.targets, pp.child("scope"), pol.Scope)
		}
		if pol.Rule == "" {
			d.errorf(pp.child("rule"), "required: a CEL expression over object and site, true when the object meets the policy")
		} else {
			pol.rule, pol.ruleAST = d.compileBoolAST(envs.policy, pp.child("rule"), pol.Rule)
			pol.env = envs.policy
		}
		switch pol.Severity {
		case "":
			pol.Severity = SeverityBlock
		case SeverityBlock, SeverityWarn:
		default:
			d.errorf(pp.child("severity"), "must be %q or %q, got %q", SeverityBlock, SeverityWarn, pol.Severity)
		}
	}
}
