// Package policy evaluates the fleet's policy gates (SPEC §7) over the
// rendered objects of one site: which policies apply there, which objects
// violate them, which products they block, and the site's compliance score.
// It is pure: it reads nothing and talks to nothing.
package policy

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
)

// Violation is one rendered object that does not meet one policy.
type Violation struct {
	// Policy is the policy's name.
	Policy string `json:"policy" yaml:"policy"`
	// Severity is what the violation does: block or warn.
	Severity fleet.Severity `json:"severity" yaml:"severity"`
	// Product is the product that renders the object.
	Product string `json:"product" yaml:"product"`
	// Object is the object, as Kind/namespace/name (Kind/name when
	// cluster-scoped).
	Object string `json:"object" yaml:"object"`
	// Message says why: the rule is false, or it could not be evaluated.
	Message string `json:"message" yaml:"message"`
	// Field is the path of the object's field that decided the rule
	// (fleet.Policy.Field), such as spec.template.spec.containers[0].image;
	// empty when the rule read none.
	Field string `json:"field,omitempty" yaml:"field,omitempty"`
	// Source is where the object's Field (or the object) is written in the
	// fleet repo, as FILE:LINE; empty when not known. Evaluate does not set
	// it: it does not know the objects' sources.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// String formats the violation on one line, after its FILE:LINE and field
// when known.
func (v Violation) String() string {
	s := fmt.Sprintf("policy %s (%s): %s %s: %s", v.Policy, v.Severity, v.Product, v.Object, v.Message)
	switch {
	case v.Source != "" && v.Field != "":
		return v.Source + ": " + v.Field + ": " + s
	case v.Source != "":
		return v.Source + ": " + s
	}
	return s
}

// Result is the outcome of evaluating a fleet's policies at one site.
type Result struct {
	// Applicable counts the policies whose scope selects the site.
	Applicable int `json:"applicable" yaml:"applicable"`
	// Met counts the applicable policies that no object violates.
	Met int `json:"met" yaml:"met"`
	// Violations are ordered by product, then object, then policy.
	Violations []Violation `json:"violations,omitempty" yaml:"violations,omitempty"`
	// Errors are policies whose scope could not be evaluated for the site;
	// they count as applicable and not met.
	Errors []string `json:"errors,omitempty" yaml:"errors,omitempty"`
}

// Score is the site's compliance score, met / applicable × 100 rounded to
// the nearest integer; ok is false when no policy applies (no score).
func (r *Result) Score() (score int, ok bool) {
	if r == nil || r.Applicable == 0 {
		return 0, false
	}
	return int(math.Round(float64(r.Met) * 100 / float64(r.Applicable))), true
}

// Blocking returns the block-severity violations of product.
func (r *Result) Blocking(product string) []Violation {
	return r.of(product, fleet.SeverityBlock)
}

// Warnings returns the warn-severity violations of product.
func (r *Result) Warnings(product string) []Violation {
	return r.of(product, fleet.SeverityWarn)
}

func (r *Result) of(product string, sev fleet.Severity) []Violation {
	if r == nil {
		return nil
	}
	var out []Violation
	for _, v := range r.Violations {
		if v.Product == product && v.Severity == sev {
			out = append(out, v)
		}
	}
	return out
}

// Evaluate checks every object of products (rendered objects by product
// name) against the policies whose scope selects site. A rule that cannot be
// evaluated for an object (a missing field it did not guard with has())
// counts as a violation: a gate fails closed.
func Evaluate(policies []fleet.Policy, site *fleet.Site, products map[string][]*unstructured.Unstructured) *Result {
	res := &Result{}
	names := make([]string, 0, len(products))
	for name := range products {
		names = append(names, name)
	}
	slices.Sort(names)
	for i := range policies {
		p := &policies[i]
		applies, err := p.AppliesTo(site)
		if err != nil {
			res.Applicable++
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		if !applies {
			continue
		}
		res.Applicable++
		met := true
		for _, product := range names {
			for _, obj := range products[product] {
				msg := check(p, obj, site)
				if msg == "" {
					continue
				}
				met = false
				res.Violations = append(res.Violations, Violation{
					Policy: p.Name, Severity: p.Severity, Product: product, Object: Describe(obj), Message: msg,
					Field: p.Field(obj.Object, site),
				})
			}
		}
		if met {
			res.Met++
		}
	}
	slices.SortStableFunc(res.Violations, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.Product, b.Product), strings.Compare(a.Object, b.Object))
	})
	return res
}

// check returns why obj does not meet p, or "" when it does.
func check(p *fleet.Policy, obj *unstructured.Unstructured, site *fleet.Site) string {
	ok, err := p.Allows(obj.Object, site)
	switch {
	case err != nil:
		return "rule could not be evaluated: " + err.Error()
	case !ok:
		return "rule not met"
	}
	return ""
}

// BlockedError is the error of a product that block-severity policies keep
// from being applied.
type BlockedError struct {
	// Violations are the product's block-severity violations.
	Violations []Violation
}

// Error names every violation, one per line after the first.
func (e *BlockedError) Error() string {
	lines := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		lines[i] = v.String()
	}
	return "blocked by policy: " + strings.Join(lines, "\n")
}

// Describe names an object as violations do: Kind/namespace/name, or
// Kind/name when it is cluster-scoped.
func Describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
