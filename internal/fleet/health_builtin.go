package fleet

import (
	"fmt"

	"github.com/google/cel-go/cel"
)

// builtinHealthChecks are the health rules syncd knows without a product
// declaring them: the progressive-delivery tools that shift traffic inside a
// site, so that a canary they abort turns the product ERROR (and counts for
// the promoter's recall). They are written like a product's healthChecks and
// evaluated the same way, after the product's own: a product check for the
// same kind replaces the built-in one.
func builtinHealthChecks() []HealthCheck {
	return []HealthCheck{
		{
			// Argo Rollouts (v1.0 and later record status.phase: Healthy,
			// Progressing, Paused or Degraded). Its status.observedGeneration
			// is a string, and a Rollout with a workloadRef records the
			// generation of the Deployment it read.
			APIVersion: "argoproj.io/v1alpha1",
			Kind:       "Rollout",
			InProgress: `!has(object.status) ||
				(string(object.status.?observedGeneration.orValue('')).matches('^[0-9]+$') &&
					int(string(object.status.observedGeneration)) < object.metadata.?generation.orValue(0)) ||
				(has(object.spec) && has(object.spec.workloadRef) &&
					string(object.metadata.?annotations[?'rollout.argoproj.io/workload-generation'].orValue('')) !=
						string(object.status.?workloadObservedGeneration.orValue(''))) ||
				object.status.?phase.orValue('') in ['Progressing', 'Paused']`,
			// A controller older than v1.0 sets no phase, only conditions.
			Failed: `object.status.?phase.orValue('') == 'Degraded' ||
				(!has(object.status.phase) && object.status.?conditions.orValue([]).exists(c,
					c.?type.orValue('') == 'InvalidSpec' ||
					(c.?type.orValue('') == 'Progressing' &&
						c.?reason.orValue('') in ['RolloutAborted', 'ProgressDeadlineExceeded'])))`,
			Current: `object.status.?phase.orValue('') == 'Healthy'`,
		},
		{
			// Flagger: Initialized (installed, no analysis yet) and
			// Succeeded (promoted) are ready; Failed is a canary Flagger
			// rolled back; every other phase is a canary under way.
			APIVersion: "flagger.app/v1beta1",
			Kind:       "Canary",
			InProgress: `!has(object.status) || object.status.?phase.orValue('') in
				['Initializing', 'Waiting', 'Progressing', 'WaitingPromotion', 'Promoting', 'Finalising', 'Terminating', 'Terminated']`,
			Failed:  `object.status.?phase.orValue('') == 'Failed'`,
			Current: `object.status.?phase.orValue('') in ['Initialized', 'Succeeded']`,
		},
	}
}

// compileBuiltinHealthChecks compiles builtinHealthChecks in env.
func compileBuiltinHealthChecks(env *cel.Env) ([]HealthCheck, error) {
	checks := builtinHealthChecks()
	for i := range checks {
		h := &checks[i]
		h.builtin = true
		for _, e := range []struct {
			name string
			expr string
			prg  *cel.Program
		}{
			{"inProgress", h.InProgress, &h.inProgress},
			{"failed", h.Failed, &h.failed},
			{"current", h.Current, &h.current},
		} {
			if e.expr == "" {
				continue
			}
			ast, iss := env.Compile(e.expr)
			if iss.Err() != nil {
				return nil, fmt.Errorf("built-in health check for %s %s: %s: %w", h.APIVersion, h.Kind, e.name, iss.Err())
			}
			prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
			if err != nil {
				return nil, fmt.Errorf("built-in health check for %s %s: %s: %w", h.APIVersion, h.Kind, e.name, err)
			}
			*e.prg = prg
		}
	}
	return checks, nil
}

// HealthChecks are the health rules for the objects of product p, in the
// order they are tried: the product's own healthChecks, then syncd's
// built-in rules (Argo Rollouts Rollout, Flagger Canary). The first that
// matches an object decides its health; an object none matches is judged by
// kstatus.
func (r *Repo) HealthChecks(p *Product) []HealthCheck {
	checks := make([]HealthCheck, 0, len(p.Spec.HealthChecks)+len(r.builtinHealth))
	checks = append(checks, p.Spec.HealthChecks...)
	return append(checks, r.builtinHealth...)
}

// Builtin reports whether h is one of syncd's built-in health rules rather
// than one a product declared.
func (h *HealthCheck) Builtin() bool { return h.builtin }
