// Package health derives a product's health at a site from the kstatus of its
// live objects, or from the product's CEL health checks for the kinds they
// match (SPEC §2.1, §4), or from syncd's built-in rules for Argo Rollouts
// and Flagger (see fleet.Repo.HealthChecks).
package health

import (
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
)

// State is a product's health.
type State string

// The health states of SPEC §4.
const (
	Healthy     State = "HEALTHY"
	Progressing State = "PROGRESSING"
	Error       State = "ERROR"
	Unknown     State = "UNKNOWN"
)

// Final reports whether waiting longer cannot change s by itself.
func (s State) Final() bool { return s == Healthy || s == Error }

// Report is the health of a set of objects and the objects that decide it.
type Report struct {
	State State
	// Reasons name the objects that are not Current, with kstatus's message.
	Reasons []string
}

// Live finds the live state of an object; nil when it does not exist.
type Live func(id object.ObjMetadata) *unstructured.Unstructured

// Of computes the health of the desired objects from their live state: all
// Current is Healthy, any Failed is Error, any InProgress is Progressing; an
// object not in the cluster yet, or whose status cannot be computed, is
// Unknown, as is nothing to check. An object that one of checks (the
// product's health checks) matches is judged by that check instead of
// kstatus. Every caller passes the product's checks.
func Of(desired []*unstructured.Unstructured, live Live, checks ...fleet.HealthCheck) Report {
	if len(desired) == 0 {
		return Report{State: Unknown}
	}
	rep := Report{State: Healthy}
	for _, want := range desired {
		obj := live(object.UnstructuredToObjMetadata(want))
		if obj == nil {
			rep.add(Unknown, describe(want)+": not in the cluster yet")
			continue
		}
		st, msg, err := objectStatus(obj, checks)
		if err != nil {
			rep.add(Unknown, fmt.Sprintf("%s: computing status: %v", describe(want), err))
			continue
		}
		switch st {
		case status.CurrentStatus:
		case status.FailedStatus:
			rep.add(Error, describe(want)+": "+msg)
		case status.InProgressStatus, status.TerminatingStatus:
			rep.add(Progressing, describe(want)+": "+msg)
		default:
			rep.add(Unknown, describe(want)+": "+msg)
		}
	}
	return rep
}

// objectStatus is the kstatus of obj, or the verdict of the first of checks
// that matches it.
func objectStatus(obj *unstructured.Unstructured, checks []fleet.HealthCheck) (status.Status, string, error) {
	for i := range checks {
		h := &checks[i]
		if !h.Matches(obj.GetAPIVersion(), obj.GetKind()) {
			continue
		}
		hs, err := h.Evaluate(obj.Object)
		if err != nil {
			return "", "", err
		}
		msg := "health check: " + string(hs)
		if h.Builtin() {
			msg = "built-in health check: " + string(hs)
		}
		msg += statusDetail(obj)
		switch hs {
		case fleet.HealthCurrent:
			return status.CurrentStatus, msg, nil
		case fleet.HealthFailed:
			return status.FailedStatus, msg, nil
		default:
			return status.InProgressStatus, msg, nil
		}
	}
	res, err := status.Compute(obj)
	if err != nil {
		return "", "", err
	}
	return res.Status, res.Message, nil
}

// statusDetail is what the object's controller says of it, for the reasons
// of a health check's verdict: " (phase P: message)", from status.phase and
// status.message, or the message of its first condition that has one;
// empty when it says nothing.
func statusDetail(obj *unstructured.Unstructured) string {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	msg, _, _ := unstructured.NestedString(obj.Object, "status", "message")
	if msg == "" {
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok {
				if s, ok := m["message"].(string); ok && s != "" {
					msg = s
					break
				}
			}
		}
	}
	switch {
	case phase != "" && msg != "":
		return " (phase " + phase + ": " + msg + ")"
	case phase != "":
		return " (phase " + phase + ")"
	case msg != "":
		return " (" + msg + ")"
	}
	return ""
}

// add records a non-Current object; the worst state wins.
func (r *Report) add(s State, reason string) {
	r.Reasons = append(r.Reasons, reason)
	if rank(s) > rank(r.State) {
		r.State = s
	}
}

func rank(s State) int {
	switch s {
	case Healthy:
		return 0
	case Unknown:
		return 1
	case Progressing:
		return 2
	default:
		return 3
	}
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
