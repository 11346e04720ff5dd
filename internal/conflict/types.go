package conflict

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Conflict objects.
var GroupVersion = schema.GroupVersion{Group: "syncd.dev", Version: "v1alpha1"}

// Conflict records one field that Git sets and another field manager owns
// with a different value, held under the manual strategy until an admin
// resolves it (SPEC §3). Its name is the conflict's ID.
type Conflict struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   Spec   `json:"spec"`
	Status Status `json:"status,omitempty"`
}

// Spec identifies the conflicted field and carries the admin's resolution.
type Spec struct {
	// Site and Product own the object.
	Site    string `json:"site"`
	Product string `json:"product,omitempty"`
	// Object is the live object.
	Object ObjectRef `json:"object"`
	// Field is the field as a JSON pointer, e.g. /spec/replicas.
	Field string `json:"field"`
	// FieldPath is the field as the API server names it, e.g. .spec.replicas.
	FieldPath string `json:"fieldPath"`
	// Manager is the field manager that owns the live value.
	Manager string `json:"manager"`
	// Strategy is the strategy that applied (manual).
	Strategy string `json:"strategy"`
	// Resolution, when set, is the admin's decision (`syncd conflicts resolve`).
	Resolution *Resolution `json:"resolution,omitempty"`
}

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Resolution is how an admin resolved a conflict.
type Resolution struct {
	// Keep is "git" (force the Git value) or "server" (accept the live value
	// until Git's value changes).
	Keep string `json:"keep"`
	// By is the resolving user, as the API server authenticated them.
	By string `json:"by"`
	// At is when the conflict was resolved.
	At metav1.Time `json:"at"`
	// GitValue is Git's value when the conflict was resolved: keeping the
	// server's value lasts until Git's value differs from it.
	GitValue string `json:"gitValue,omitempty"`
}

// Status is syncd's view of the conflict.
type Status struct {
	// State is Open, Resolved (the resolution is in effect) or Superseded.
	State State `json:"state,omitempty"`
	// GitValue and LiveValue are JSON values; a Secret's are keyed hashes,
	// "hmac-sha256:<hex>" (see HashValue).
	GitValue  string `json:"gitValue,omitempty"`
	LiveValue string `json:"liveValue,omitempty"`
	// FirstSeen and LastSeen bound when syncd saw the conflict.
	FirstSeen metav1.Time `json:"firstSeen,omitempty"`
	LastSeen  metav1.Time `json:"lastSeen,omitempty"`
	// Message says what happened last, e.g. why it was superseded.
	Message string `json:"message,omitempty"`
}

// State is the lifecycle state of a Conflict.
type State string

// Conflict states.
const (
	// Open: the live value is kept and syncd waits for an admin.
	Open State = "Open"
	// Resolved: an admin's resolution is in effect.
	Resolved State = "Resolved"
	// Superseded: the conflict went away by itself (Git changed to match the
	// live value, the object or the field is gone) or Git moved on after a
	// keep-server resolution. Kept for audit.
	Superseded State = "Superseded"
)

// ConflictList is a list of Conflicts.
type ConflictList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Conflict `json:"items"`
}

// AddToScheme registers Conflict and ConflictList.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Conflict{}, &ConflictList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyObject implements runtime.Object.
func (c *Conflict) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopy returns a deep copy of c.
func (c *Conflict) DeepCopy() *Conflict {
	if c == nil {
		return nil
	}
	out := *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if c.Spec.Resolution != nil {
		r := *c.Spec.Resolution
		c.Spec.Resolution.At.DeepCopyInto(&r.At)
		out.Spec.Resolution = &r
	}
	c.Status.FirstSeen.DeepCopyInto(&out.Status.FirstSeen)
	c.Status.LastSeen.DeepCopyInto(&out.Status.LastSeen)
	return &out
}

// DeepCopyObject implements runtime.Object.
func (l *ConflictList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Conflict, len(l.Items))
	for i := range l.Items {
		out.Items[i] = *l.Items[i].DeepCopy()
	}
	return &out
}
