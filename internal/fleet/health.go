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
// instead of kstatus for that kind, as Flux's CEL health checks are.
// InProgress, Failed and Current are CEL expressions over `object`, the live
// object as a map (object.status.phase, ...). An object whose
// status.observedGeneration is behind its metadata.generation is InProgress;
// otherwise the expressions are evaluated in the order InProgress, Failed,
// Current and the first that is true decides; when none is, the object is
// InProgress. At least one of Current and Failed is set.
type HealthCheck struct {
	// APIVersion is the object's apiVersion (group/version); empty matches any.
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// InProgress is a CEL expression that is true while the object is not
	// ready yet, whatever Failed and Current say.
	InProgress string `json:"inProgress,omitempty"`
	// Failed is a CEL expression that is true when the object has failed.
	Failed string `json:"failed,omitempty"`
	// Current is a CEL expression that is true when the object is ready.
	Current string `json:"current,omitempty"`

	inProgress, failed, current cel.Program
	builtin                     bool
}

// Matches reports whether the check applies to objects of apiVersion and kind.
func (h *HealthCheck) Matches(apiVersion, kind string) bool {
	return h.Kind == kind && (h.APIVersion == "" || h.APIVersion == apiVersion)
}

// Evaluate returns the health of object. The check must come from Load,
// which compiles its expressions.
func (h *HealthCheck) Evaluate(object map[string]any) (HealthStatus, error) {
	if (h.InProgress != "" && h.inProgress == nil) || (h.Failed != "" && h.failed == nil) ||
		(h.Current != "" && h.current == nil) {
		return "", fmt.Errorf("health check for %s is not compiled; load it with fleet.Load", h.Kind)
	}
	if generationPending(object) {
		return HealthInProgress, nil
	}
	vars := map[string]any{"object": object}
	for _, e := range []struct {
		name   string
		prg    cel.Program
		status HealthStatus
	}{
		{"inProgress", h.inProgress, HealthInProgress},
		{"failed", h.failed, HealthFailed},
		{"current", h.current, HealthCurrent},
	} {
		if e.prg == nil {
			continue
		}
		ok, err := evalBool(e.prg, vars)
		if err != nil {
			return "", fmt.Errorf("health check for %s: %s: %w", h.Kind, e.name, err)
		}
		if ok {
			return e.status, nil
		}
	}
	return HealthInProgress, nil
}

// generationPending reports whether the object's controller has not yet
// observed its latest spec: status.observedGeneration is set and behind
// metadata.generation.
func generationPending(object map[string]any) bool {
	meta, _ := object["metadata"].(map[string]any)
	status, _ := object["status"].(map[string]any)
	gen, okGen := asInt(meta["generation"])
	observed, okObs := asInt(status["observedGeneration"])
	return okGen && okObs && observed < gen
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	}
	return 0, false
}

// compileHealthCheck validates and compiles the health check at p.
func (d *document) compileHealthCheck(env *cel.Env, p fieldPath, h *HealthCheck) {
	if h.Kind == "" {
		d.errorf(p.child("kind"), "required")
	}
	if h.Current == "" && h.Failed == "" {
		d.errorf(p, "at least one of current and failed is required")
	}
	if h.InProgress != "" {
		h.inProgress = d.compileBool(env, p.child("inProgress"), h.InProgress)
	}
	if h.Current != "" {
		h.current = d.compileBool(env, p.child("current"), h.Current)
	}
	if h.Failed != "" {
		h.failed = d.compileBool(env, p.child("failed"), h.Failed)
	}
}
