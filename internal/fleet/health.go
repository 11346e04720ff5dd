package fleet

import (
	"fmt"

	"github.com/google/cel-go/cel"
)

// HealthStatus is the result of a HealthCheck, named like kstatus statuses.
type HealthStatus string

// Health statuses.
const (
	// HealthCurrent means the object is ready.
	HealthCurrent HealthStatus = "Current"
	// HealthInProgress means the object is not ready yet.
	HealthInProgress HealthStatus = "InProgress"
	// HealthFailed means the object failed.
	HealthFailed HealthStatus = "Failed"
)

// HealthCheck is a custom health rule for the objects of one kind, used
// instead of kstatus for that kind. Current and Failed are CEL expressions
// over `object`, the live object as a map (object.status.phase, ...); an
// object is Failed when Failed is true, else Current when Current is true,
// else InProgress. At least one of them is set.
type HealthCheck struct {
	// APIVersion is the object's apiVersion (group/version); empty matches any.
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// Current is a CEL expression that is true when the object is ready.
	Current string `json:"current,omitempty"`
	// Failed is a CEL expression that is true when the object has failed.
	Failed string `json:"failed,omitempty"`

	current, failed cel.Program
}

// Matches reports whether the check applies to objects of apiVersion and kind.
func (h *HealthCheck) Matches(apiVersion, kind string) bool {
	return h.Kind == kind && (h.APIVersion == "" || h.APIVersion == apiVersion)
}

// Evaluate returns the health of object. The check must come from Load,
// which compiles its expressions.
func (h *HealthCheck) Evaluate(object map[string]any) (HealthStatus, error) {
	if (h.Current != "" && h.current == nil) || (h.Failed != "" && h.failed == nil) {
		return "", fmt.Errorf("health check for %s is not compiled; load it with fleet.Load", h.Kind)
	}
	vars := map[string]any{"object": object}
	if h.failed != nil {
		failed, err := evalBool(h.failed, vars)
		if err != nil {
			return "", fmt.Errorf("health check for %s: failed: %w", h.Kind, err)
		}
		if failed {
			return HealthFailed, nil
		}
	}
	if h.current != nil {
		current, err := evalBool(h.current, vars)
		if err != nil {
			return "", fmt.Errorf("health check for %s: current: %w", h.Kind, err)
		}
		if current {
			return HealthCurrent, nil
		}
	}
	return HealthInProgress, nil
}

// compileHealthCheck validates and compiles the health check at p.
func (d *document) compileHealthCheck(env *cel.Env, p fieldPath, h *HealthCheck) {
	if h.Kind == "" {
		d.errorf(p.child("kind"), "required")
	}
	if h.Current == "" && h.Failed == "" {
		d.errorf(p, "at least one of current and failed is required")
	}
	if h.Current != "" {
		h.current = d.compileBool(env, p.child("current"), h.Current)
	}
	if h.Failed != "" {
		h.failed = d.compileBool(env, p.child("failed"), h.Failed)
	}
}
