package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/apply"
	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/redact"
)

// conflictItem is a decision on one conflicted field of one object.
type conflictItem struct {
	conflict.Item
	obj *unstructured.Unstructured
}

// decideConflicts dry-runs, without force, the objects that another field
// manager also manages, and returns the objects to apply (without the fields
// syncd yields) and the decisions taken.
func (r *Reconciler) decideConflicts(ctx context.Context, pp *ProductPlan, live liveIndex, known map[string]*conflict.Conflict) ([]*unstructured.Unstructured, []conflictItem, error) {
	objs := make([]*unstructured.Unstructured, len(pp.Objects))
	var items []conflictItem
	for i, o := range pp.Objects {
		objs[i] = o
		cur := live[object.UnstructuredToObjMetadata(o)]
		if cur == nil || !conflict.Contested(o, cur, apply.FieldManager) {
			continue
		}
		reported, err := conflict.Detect(ctx, r.client, o, apply.FieldManager)
		if err != nil {
			return nil, nil, err
		}
		if len(reported) == 0 {
			continue
		}
		in := conflict.Input{
			Site: r.cfg.Site, Product: pp.Name, Desired: o, Live: cur,
			Reported: reported, Rules: pp.Conflicts, Known: known,
		}
		if redact.IsSecret(o) {
			if in.ValueKey, err = r.valueKey(ctx); err != nil {
				return nil, nil, err
			}
		}
		d, err := conflict.Decide(in)
		if err != nil {
			return nil, nil, err
		}
		objs[i] = d.Apply
		for _, it := range d.Items {
			items = append(items, conflictItem{Item: it, obj: o})
		}
	}
	return objs, items, nil
}

// recordConflicts reports the decisions after the apply succeeded: events and
// logs for forced and yielded fields, Conflict objects for held ones, and
// marks conflicts that went away as superseded.
//
// Only conflicts that inScope accepts can be superseded: those of the whole
// product after a full sync, of one object after an object sync.
func (r *Reconciler) recordConflicts(ctx context.Context, log hclog.Logger, pp *ProductPlan, items []conflictItem, known map[string]*conflict.Conflict, inScope func(*conflict.Conflict) bool) (held int, err error) {
	seen := map[string]bool{}
	for _, it := range items {
		desc := fmt.Sprintf("%s %s (manager %s): git %s, live %s", diff.Describe(it.obj), it.Pointer, it.Owner(), it.GitValue, it.LiveValue)
		switch it.Action {
		case conflict.Forced:
			log.Info("conflict: took the field back", "object", diff.Describe(it.obj), "field", it.Pointer, "manager", it.Owner(), "git", it.GitValue, "live", it.LiveValue, "strategy", it.Strategy)
			r.event(ctx, it.obj, corev1.EventTypeNormal, "ConflictGitWins", "syncd applied Git's value over "+desc)
			if it.ID != "" {
				seen[it.ID] = true
				if err := r.conflicts.SetState(ctx, it.ID, conflict.Resolved, "Git's value applied after `--keep git`"); err != nil {
					return held, err
				}
			}
		case conflict.Yielded:
			log.Info("conflict: kept the live value", "object", diff.Describe(it.obj), "field", it.Pointer, "manager", it.Owner(), "strategy", it.Strategy)
			if it.ID != "" {
				seen[it.ID] = true
				if prev := known[it.ID]; prev != nil && prev.Status.State != conflict.Resolved {
					if err := r.conflicts.SetState(ctx, it.ID, conflict.Resolved, "live value accepted with `--keep server` until either value changes"); err != nil {
						return held, err
					}
				}
			}
		case conflict.Held:
			held++
			seen[it.ID] = true
			c := &conflict.Conflict{
				ObjectMeta: metav1.ObjectMeta{Name: it.ID, Namespace: r.cfg.Namespace},
				Spec: conflict.Spec{
					Site: r.cfg.Site, Product: pp.Name,
					Object:    conflict.ObjectRef{APIVersion: it.obj.GetAPIVersion(), Kind: it.obj.GetKind(), Namespace: it.obj.GetNamespace(), Name: it.obj.GetName()},
					Field:     it.Pointer,
					FieldPath: it.FieldPath,
					Manager:   it.Manager,
					Strategy:  string(fleet.Manual),
				},
				Status: conflict.Status{GitValue: it.GitValue, LiveValue: it.LiveValue},
			}
			prev := known[it.ID]
			if prev != nil && prev.Spec.Resolution != nil {
				// The same disagreement again after Git's value was forced:
				// a fresh conflict replaces the finished one.
				if err := r.client.Delete(ctx, prev); err != nil && !apierrors.IsNotFound(err) {
					return held, fmt.Errorf("replacing finished conflict %s: %w", prev.Name, err)
				}
			}
			if prev == nil || prev.Status.State != conflict.Open {
				log.Warn("conflict held for an admin", "id", it.ID, "object", diff.Describe(it.obj), "field", it.Pointer, "manager", it.Owner())
				r.event(ctx, it.obj, corev1.EventTypeWarning, "ConflictManual", fmt.Sprintf("conflict %s: %s; resolve with `syncd conflicts resolve %s --keep git|server`", it.ID, desc, it.ID))
			}
			if _, err := r.conflicts.Record(ctx, c); err != nil {
				return held, err
			}
		}
	}
	for id, c := range known {
		if c.Spec.Product != pp.Name || !inScope(c) || seen[id] || c.Status.State == conflict.Superseded {
			continue
		}
		if c.Status.State == conflict.Resolved && c.Spec.Resolution != nil && c.Spec.Resolution.Keep == "git" {
			continue
		}
		if err := r.conflicts.SetState(ctx, id, conflict.Superseded, "no longer in conflict: Git's value changed or matches the live value, or the field or object is gone"); err != nil {
			return held, err
		}
	}
	return held, nil
}

// pendingResolution reports whether an admin resolved a conflict of the
// product that syncd has not acted on yet.
func pendingResolution(product string, known map[string]*conflict.Conflict) bool {
	for _, c := range known {
		if c.Spec.Product == product && c.Spec.Resolution != nil && c.Status.State == conflict.Open {
			return true
		}
	}
	return false
}

// event records a Kubernetes Event on obj; failures are logged, not fatal.
func (r *Reconciler) event(ctx context.Context, obj *unstructured.Unstructured, kind, reason, msg string) {
	if r.cfg.Events != nil {
		r.cfg.Events.Event(obj, kind, reason, msg)
		return
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: obj.GetName() + ".", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(),
		},
		Reason: reason, Message: msg, Type: kind,
		Source:         corev1.EventSource{Component: "syncd"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "syncd.dev/syncd", ReportingInstance: r.cfg.Site,
	}
	if err := r.client.Create(ctx, ev); err != nil {
		r.cfg.Log.Warn("recording event failed", "reason", reason, "object", diff.Describe(obj), "error", err)
	}
}

// conflictChanges lists the fields syncd leaves at their live value as
// yielded (server_wins, or kept by an admin) or held (an open manual conflict):
// neither is drift.
func conflictChanges(product string, items []conflictItem) []diff.Change {
	var out []diff.Change
	for _, it := range items {
		c := diff.Change{Product: product, Object: diff.Describe(it.obj) + " " + it.Pointer}
		detail := fmt.Sprintf("live %s (manager %s), git %s", it.LiveValue, it.Owner(), it.GitValue)
		switch it.Action {
		case conflict.Yielded:
			c.Action, c.Diff = diff.Yielded, detail+"\n"
		case conflict.Held:
			c.Action, c.Diff = diff.Held, fmt.Sprintf("%s; conflict %s awaits `syncd conflicts resolve`\n", detail, it.ID)
		default:
			continue
		}
		out = append(out, c)
	}
	return out
}

// driftCorrected records an event for every object the apply created or
// configured although the render had not changed, and returns their number.
func (r *Reconciler) driftCorrected(ctx context.Context, log hclog.Logger, objs []*unstructured.Unstructured, cs *ssa.ChangeSet) int {
	byID := map[object.ObjMetadata]*unstructured.Unstructured{}
	for _, o := range objs {
		byID[object.UnstructuredToObjMetadata(o)] = o
	}
	n := 0
	for _, e := range cs.Entries {
		if e.Action != ssa.CreatedAction && e.Action != ssa.ConfiguredAction {
			continue
		}
		n++
		log.Info("drift corrected", "object", e.Subject, "action", e.Action.String())
		if o := byID[e.ObjMetadata]; o != nil {
			r.event(ctx, o, corev1.EventTypeNormal, "DriftCorrected", fmt.Sprintf("syncd %s %s back to Git's state after a change made outside Git", e.Action, e.Subject))
		}
	}
	return n
}

// failedObject is the object an apply error is about, or the product's first.
func failedObject(err error, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	var dry *ssaerrors.DryRunErr
	if errors.As(err, &dry) && dry.InvolvedObject() != nil {
		return dry.InvolvedObject()
	}
	return objs[0]
}

// valueKey returns the site's key for hashing Secret values, loading (or, at
// a site's first Secret conflict, creating) it once.
func (r *Reconciler) valueKey(ctx context.Context) ([]byte, error) {
	r.keyMu.Lock()
	defer r.keyMu.Unlock()
	if r.key == nil {
		key, err := conflict.LoadValueKey(ctx, r.client, r.cfg.Namespace, r.cfg.Site)
		if err != nil {
			return nil, err
		}
		r.key = key
	}
	return r.key, nil
}
