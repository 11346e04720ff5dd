package conflict

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/redact"
)

// Action is what syncd does with one conflicted field.
type Action string

// Actions on conflicted fields.
const (
	// Forced: Git's value is applied with force (git_wins, or a manual
	// conflict resolved with --keep git).
	Forced Action = "forced"
	// Yielded: the live value stays and syncd releases the field
	// (server_wins, or a manual conflict resolved with --keep server).
	Yielded Action = "yielded"
	// Held: the live value stays and a manual conflict is open.
	Held Action = "held"
)

// Item is the decision on one conflicted field.
type Item struct {
	// ID is the Conflict's name, for the manual strategy.
	ID string
	// FieldPath and Pointer name the field; Manager owns the live value,
	// through Subresource ("scale") when not through the main resource.
	FieldPath, Pointer, Manager, Subresource string
	Strategy                                 fleet.ConflictStrategy
	Action                                   Action
	// GitValue and LiveValue are JSON, or keyed hashes for Secrets (see
	// HashValue).
	GitValue, LiveValue string
	// Rule is the site conflict rule that chose the strategy, if any.
	Rule *fleet.ConflictRule
	// Resolution is the admin's resolution in effect, if any.
	Resolution *Resolution
}

// Decision is what to apply for one object with conflicts.
type Decision struct {
	// Apply is the object to apply: the rendered object without the fields
	// syncd yields.
	Apply *unstructured.Unstructured
	// Items are the decisions per conflicted field.
	Items []Item
}

// Input is what Decide needs to know about one object.
type Input struct {
	Site, Product string
	// Desired is the rendered object; Live its live state.
	Desired, Live *unstructured.Unstructured
	// Reported are the conflicts the API server reported.
	Reported []Reported
	// Rules choose the strategy.
	Rules Rules
	// Known are the recorded conflicts by ID.
	Known map[string]*Conflict
	// ValueKey is the site's HMAC key for Secret values (LoadValueKey);
	// without it a Secret's values are shown as "(hidden)".
	ValueKey []byte
}

// Decide applies the strategies to the reported conflicts of one object.
func Decide(in Input) (Decision, error) {
	d := Decision{Apply: in.Desired.DeepCopy()}
	ref := ObjectRef{APIVersion: in.Desired.GetAPIVersion(), Kind: in.Desired.GetKind(), Namespace: in.Desired.GetNamespace(), Name: in.Desired.GetName()}
	var yield []string
	for _, rep := range in.Reported {
		f, err := ResolveField(in.Desired.Object, rep.FieldPath)
		if err != nil {
			return d, fmt.Errorf("%s: conflict on %s with %s: %w", describe(in.Desired), rep.FieldPath, rep.Manager, err)
		}
		item := Item{FieldPath: rep.FieldPath, Pointer: f.Pointer(), Manager: rep.Manager, Subresource: rep.Subresource}
		gitValue, _ := f.Get(in.Desired.Object)
		item.GitValue = encodeValue(in.Desired, gitValue, in.ValueKey)
		item.LiveValue = liveValue(in.Desired, in.Live, rep.FieldPath, in.ValueKey)
		item.Strategy, item.Rule = in.Rules.Strategy(Target{
			Group: in.Desired.GroupVersionKind().Group, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
			Pointer: item.Pointer, Manager: rep.Manager,
		})
		switch item.Strategy {
		case fleet.GitWins:
			item.Action = Forced
		case fleet.ServerWins:
			item.Action = Yielded
		default:
			// The ID carries both values: a conflict is one disagreement, and
			// either side changing makes a new one (the old is superseded).
			item.ID = ID(in.Site, ref, item.Pointer+"@"+item.GitValue+"@"+item.LiveValue)
			item.Action, item.Resolution = manualAction(in.Known[item.ID])
			if kept := keptServer(in.Known, ref, item.Pointer, item.GitValue); item.Action == Held && kept != nil {
				// An admin accepted the live value for this field and Git's
				// value has not changed since: the live side may move on.
				item.ID, item.Action, item.Resolution = kept.Name, Yielded, kept.Spec.Resolution
			}
		}
		if item.Action != Forced {
			yield = append(yield, rep.FieldPath)
		}
		d.Items = append(d.Items, item)
	}
	// Re-resolve each path before removing it: removing a list element
	// shifts the indexes of the elements after it.
	for _, p := range yield {
		if f, err := ResolveField(d.Apply.Object, p); err == nil {
			f.Remove(d.Apply.Object)
		}
	}
	return d, nil
}

// Owner names the manager of the live value for people: "kubectl-edit", or
// "kubectl-scale through /scale".
func (it Item) Owner() string {
	if it.Subresource == "" {
		return it.Manager
	}
	return it.Manager + " through /" + it.Subresource
}

// keptServer finds a conflict on the same field resolved with --keep server
// while Git's value was gitValue, which still holds.
func keptServer(known map[string]*Conflict, ref ObjectRef, pointer, gitValue string) *Conflict {
	for _, c := range known {
		res := c.Spec.Resolution
		if c.Spec.Object == ref && c.Spec.Field == pointer && res != nil && res.Keep == "server" &&
			res.GitValue == gitValue && c.Status.State != Superseded {
			return c
		}
	}
	return nil
}

// manualAction applies an admin's resolution, if any, to a manual conflict.
func manualAction(known *Conflict) (Action, *Resolution) {
	if known == nil || known.Spec.Resolution == nil {
		return Held, nil
	}
	res := known.Spec.Resolution
	switch {
	case res.Keep == "git" && known.Status.State != Resolved:
		return Forced, res
	case res.Keep == "server":
		return Yielded, res
	}
	// Git's value was forced before and someone changed the field again:
	// this is a new disagreement.
	return Held, nil
}

// liveValue reads the field from the live object, if it is there.
func liveValue(desired, live *unstructured.Unstructured, path string, key []byte) string {
	if live == nil {
		return ""
	}
	f, err := ResolveField(live.Object, path)
	if err != nil {
		return ""
	}
	v, ok := f.Get(live.Object)
	if !ok {
		return ""
	}
	return encodeValue(desired, v, key)
}

// encodeValue is a value as JSON, or for a Secret its HMAC with the site's
// key, so no secret value is ever stored or printed, nor one that can be
// checked against guessed values without the key.
func encodeValue(obj *unstructured.Unstructured, v any, key []byte) string {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(fmt.Sprint(v))
	}
	if redact.IsSecret(obj) {
		return HashValue(key, data)
	}
	return string(data)
}
