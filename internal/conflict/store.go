package conflict

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/render"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

// FieldManager is the field manager syncd writes the CRD with.
const FieldManager = wellknown.FieldManager

// Resolution choices for Store.Resolve and `syncd conflicts resolve --keep`.
const (
	// KeepGit forces Git's value on the next reconcile.
	KeepGit = "git"
	// KeepServer accepts the live value until Git's value changes.
	KeepServer = "server"
)

// establishTimeout bounds how long Install waits for the API server to serve
// the CRD.
const establishTimeout = 30 * time.Second

// crdGVK is the kind of the object Install applies.
var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// Scheme returns a new scheme holding client-go's built-in types and
// Conflict. A Store's client must be built with a scheme that registers
// Conflict (this one, or any with AddToScheme applied).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	// Both only register static types and fail only on a programming error.
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(AddToScheme(s))
	return s
}

// Store keeps Conflict objects in one namespace (syncd's, by default
// syncd-system). It reads and writes the API server directly, without a
// cache, so what it returns is what the cluster holds.
type Store struct {
	client    client.Client
	namespace string
	now       func() time.Time
}

// NewStore returns a Store over c for Conflicts in namespace. c's scheme must
// register Conflict (see Scheme); the namespace must exist before Record.
func NewStore(c client.Client, namespace string) *Store {
	return &Store{client: c, namespace: namespace, now: time.Now}
}

// Namespace is the namespace the Store keeps Conflicts in.
func (s *Store) Namespace() string { return s.namespace }

// Install creates or updates the conflicts.syncd.dev CRD by server-side apply
// (field manager syncd, forcing ownership) and waits until the API server
// serves it, at most 30 seconds. Calling it again is harmless.
func (s *Store) Install(ctx context.Context) error {
	crd, err := CRD()
	if err != nil {
		return err
	}
	if err := s.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying CRD %s: %w", crd.GetName(), err)
	}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, establishTimeout, true, func(ctx context.Context) (bool, error) {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(crdGVK)
		if lastErr = s.client.Get(ctx, client.ObjectKey{Name: crd.GetName()}, live); lastErr != nil {
			return false, nil
		}
		if !crdEstablished(live) {
			return false, nil
		}
		// Established comes before discovery serves the kind: wait until
		// the client can map it, or the first Record fails with "no
		// matches for kind Conflict".
		_, lastErr = s.client.RESTMapper().RESTMapping(schema.GroupKind{Group: GroupVersion.Group, Kind: "Conflict"}, GroupVersion.Version)
		return lastErr == nil, nil
	})
	if err != nil {
		if lastErr != nil {
			err = fmt.Errorf("%w (last error: %w)", err, lastErr)
		}
		return fmt.Errorf("waiting for CRD %s to be established: %w", crd.GetName(), err)
	}
	return nil
}

// crdEstablished reports whether a CRD's Established condition is True.
func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" {
			return m["status"] == "True"
		}
	}
	return false
}

// Get returns the Conflict named id. A missing one is an error for which
// apierrors.IsNotFound is true.
func (s *Store) Get(ctx context.Context, id string) (*Conflict, error) {
	c := &Conflict{}
	if err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: id}, c); err != nil {
		return nil, fmt.Errorf("getting conflict %s in namespace %s: %w", id, s.namespace, err)
	}
	return c, nil
}

// List returns the Conflicts of site (every site's when site is empty),
// whatever their state, sorted by ID.
func (s *Store) List(ctx context.Context, site string) ([]Conflict, error) {
	opts := []client.ListOption{client.InNamespace(s.namespace)}
	if site != "" {
		opts = append(opts, client.MatchingLabels{render.LabelSite: site})
	}
	var list ConflictList
	if err := s.client.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("listing conflicts in namespace %s: %w", s.namespace, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// Record stores a conflict that syncd sees now. c carries the spec (site,
// product, object, field, fieldPath, manager, strategy) and the current
// status.gitValue and status.liveValue; its name is its ID, computed with ID
// when c.Name is empty.
//
// A new conflict is created Open with FirstSeen and LastSeen now. An existing
// one keeps FirstSeen and its resolution; its values and LastSeen are
// updated, its manager, product, field path and strategy follow c, and it is
// re-opened if it was Superseded (a Resolved one stays Resolved), with c's
// status.message (a non-empty one replaces the message otherwise). c's
// spec.resolution is ignored: only Resolve sets one. Recording
// the same conflict again, for instance after a restart, never duplicates it.
// Record returns the stored object.
func (s *Store) Record(ctx context.Context, c *Conflict) (*Conflict, error) {
	id := c.Name
	if id == "" {
		id = ID(c.Spec.Site, c.Spec.Object, c.Spec.Field)
	}
	var stored *Conflict
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := s.getOrCreate(ctx, id, c.Spec)
		if err != nil {
			return err
		}
		if err := s.updateSpec(ctx, cur, c.Spec); err != nil {
			return err
		}
		now := metav1.NewTime(s.now())
		cur.Status.GitValue = c.Status.GitValue
		cur.Status.LiveValue = c.Status.LiveValue
		cur.Status.LastSeen = now
		if cur.Status.FirstSeen.IsZero() {
			// New, or created by a syncd that stopped before setting its status.
			cur.Status.FirstSeen = now
		}
		switch {
		case cur.Status.State == "" || cur.Status.State == Superseded:
			cur.Status.State = Open
			cur.Status.Message = c.Status.Message
		case c.Status.Message != "":
			cur.Status.Message = c.Status.Message
		}
		if err := s.client.Status().Update(ctx, cur); err != nil {
			return fmt.Errorf("updating status: %w", err)
		}
		stored = cur
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording conflict %s in namespace %s: %w", id, s.namespace, err)
	}
	return stored, nil
}

// getOrCreate returns the Conflict id, creating it from spec (without a
// resolution) when it does not exist. The API server drops the status of a
// create (status is a subresource): Record sets it next.
func (s *Store) getOrCreate(ctx context.Context, id string, spec Spec) (*Conflict, error) {
	cur := &Conflict{}
	key := client.ObjectKey{Namespace: s.namespace, Name: id}
	err := s.client.Get(ctx, key, cur)
	if err == nil {
		return cur, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	cur = &Conflict{
		ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: s.namespace, Labels: labelsFor(spec)},
		Spec:       spec,
	}
	cur.Spec.Resolution = nil
	err = s.client.Create(ctx, cur)
	if apierrors.IsAlreadyExists(err) {
		// Created concurrently since the Get: use that one.
		cur = &Conflict{}
		err = s.client.Get(ctx, key, cur)
	}
	if err != nil {
		return nil, err
	}
	return cur, nil
}

// updateSpec brings the descriptive spec fields (manager, product, field
// path, strategy) and the labels of cur in line with spec, keeping cur's
// resolution. It writes nothing when they already match.
func (s *Store) updateSpec(ctx context.Context, cur *Conflict, spec Spec) error {
	want := spec
	want.Resolution = cur.Spec.Resolution
	wantLabels := labelsFor(spec)
	if want == cur.Spec && hasAllLabels(cur.Labels, wantLabels) {
		return nil
	}
	cur.Spec = want
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range wantLabels {
		cur.Labels[k] = v
	}
	if err := s.client.Update(ctx, cur); err != nil {
		return fmt.Errorf("updating spec: %w", err)
	}
	return nil
}

// labelsFor are the labels a Conflict of spec carries.
func labelsFor(spec Spec) map[string]string {
	l := map[string]string{render.LabelSite: spec.Site}
	if spec.Product != "" {
		l[render.LabelProduct] = spec.Product
	}
	return l
}

// hasAllLabels reports whether have holds every label of want.
func hasAllLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// SetState sets the state of Conflict id with a message saying why, and
// moves its LastSeen to now.
func (s *Store) SetState(ctx context.Context, id string, state State, message string) error {
	switch state {
	case Open, Resolved, Superseded:
	default:
		return fmt.Errorf("setting state of conflict %s: unknown state %q (want %s, %s or %s)", id, state, Open, Resolved, Superseded)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		cur.Status.State = state
		cur.Status.Message = message
		cur.Status.LastSeen = metav1.NewTime(s.now())
		return s.client.Status().Update(ctx, cur)
	})
	if err != nil {
		return fmt.Errorf("setting state of conflict %s to %s: %w", id, state, err)
	}
	return nil
}

// Resolve records an admin's resolution of Conflict id: keep is KeepGit or
// KeepServer, by the user the API server authenticated. It replaces any
// earlier resolution, whatever the conflict's state, and stores Git's value
// of the moment with it. It updates the Conflict itself, not its status, so
// RBAC on conflicts.syncd.dev (verb update) decides who may resolve.
// Resolve returns the updated Conflict.
func (s *Store) Resolve(ctx context.Context, id, keep, by string) (*Conflict, error) {
	if keep != KeepGit && keep != KeepServer {
		return nil, fmt.Errorf("resolving conflict %s: keep must be %q or %q, not %q", id, KeepGit, KeepServer, keep)
	}
	if by == "" {
		return nil, fmt.Errorf("resolving conflict %s: the resolving user's name is required", id)
	}
	var resolved *Conflict
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		cur.Spec.Resolution = &Resolution{
			Keep:     keep,
			By:       by,
			At:       metav1.NewTime(s.now()),
			GitValue: cur.Status.GitValue,
		}
		if err := s.client.Update(ctx, cur); err != nil {
			return err
		}
		resolved = cur
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolving conflict %s: %w", id, err)
	}
	return resolved, nil
}

// Prune deletes the Superseded and Resolved Conflicts last seen more than
// retention ago and returns how many it deleted. A Conflict that changes
// while Prune runs (say, re-opened) is kept.
func (s *Store) Prune(ctx context.Context, retention time.Duration) (int, error) {
	all, err := s.List(ctx, "")
	if err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-retention)
	var errs []error
	deleted := 0
	for i := range all {
		c := &all[i]
		if c.Status.State != Superseded && c.Status.State != Resolved {
			continue
		}
		if c.Status.LastSeen.IsZero() || !c.Status.LastSeen.Time.Before(cutoff) {
			continue
		}
		rv, uid := c.ResourceVersion, c.UID
		err := s.client.Delete(ctx, c, client.Preconditions{ResourceVersion: &rv, UID: &uid})
		switch {
		case err == nil:
			deleted++
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Gone already, or changed since listed: not ours to delete now.
		default:
			errs = append(errs, fmt.Errorf("deleting conflict %s: %w", c.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("pruning conflicts in namespace %s: %w", s.namespace, err)
	}
	return deleted, nil
}
