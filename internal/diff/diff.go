// Package diff tells what a sync would change at a site: per object created,
// configured (drifted), unchanged or deleted (would prune), with a readable
// field-level diff from a server-side apply dry run. Secret values are masked.
package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/ssa"
	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/redact"
)

// Action is what a sync would do to one object.
type Action string

// The actions of `syncd diff`.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
	// Yielded fields are left at their live value on purpose (server_wins,
	// or an admin's --keep server); not drift.
	Yielded Action = "yielded"
	// Held fields are left at their live value while a manual conflict is
	// open; not drift.
	Held Action = "conflict"
)

// Differs reports whether the action means the live cluster is not what Git
// says (so `syncd diff` exits 1).
func (a Action) Differs() bool { return a == Created || a == Configured || a == Deleted }

// Change is the planned change of one object.
type Change struct {
	// Product owns the object.
	Product string
	// Object is "Kind/namespace/name" (or "Kind/name" when cluster-scoped).
	Object string
	// Action is what a sync would do.
	Action Action
	// Diff is a unified diff of the live object against the dry-run result,
	// for Configured objects.
	Diff string
}

// Differ runs server-side apply dry runs.
type Differ interface {
	Diff(ctx context.Context, obj *unstructured.Unstructured, opts ssa.DiffOptions) (*ssa.ChangeSetEntry, *unstructured.Unstructured, *unstructured.Unstructured, error)
}

// Objects diffs every rendered object of product against the live cluster.
// An object that cannot be dry-run because the namespace it goes in, or the
// CustomResourceDefinition of its kind, does not exist yet but is itself
// among objs, is reported as created: the sync creates it first.
func Objects(ctx context.Context, d Differ, product string, objs []*unstructured.Unstructured) ([]Change, error) {
	changes := make([]Change, 0, len(objs))
	for _, o := range objs {
		entry, live, merged, err := d.Diff(ctx, o.DeepCopy(), ssa.DefaultDiffOptions())
		if err != nil && createdWithDependency(err, o, objs) {
			changes = append(changes, Change{Product: product, Object: Describe(o), Action: Created})
			continue
		}
		if err != nil {
			return changes, fmt.Errorf("diffing %s: %w", Describe(o), redact.Error(err, o))
		}
		c := Change{Product: product, Object: Describe(o)}
		switch entry.Action {
		case ssa.CreatedAction:
			c.Action = Created
		case ssa.ConfiguredAction:
			c.Action = Configured
			// ssa masked data values already; the last-applied
			// annotation copies them.
			redact.Objects(live, merged)
			if c.Diff, err = Unified(live, merged); err != nil {
				return changes, fmt.Errorf("diffing %s: %w", Describe(o), err)
			}
		default:
			c.Action = Unchanged
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// createdWithDependency reports whether err says that o's namespace or the
// definition of o's kind is missing while objs would create it.
func createdWithDependency(err error, o *unstructured.Unstructured, objs []*unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	if meta.IsNoMatchError(err) {
		for _, crd := range objs {
			if crd.GetKind() != "CustomResourceDefinition" || crd.GroupVersionKind().Group != "apiextensions.k8s.io" {
				continue
			}
			group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
			if group == gvk.Group && kind == gvk.Kind {
				return true
			}
		}
		return false
	}
	var status apierrors.APIStatus
	if ns := o.GetNamespace(); ns == "" || !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	details := status.Status().Details
	if details == nil || details.Kind != "namespaces" || details.Name != o.GetNamespace() {
		return false
	}
	for _, n := range objs {
		if n.GetKind() == "Namespace" && n.GroupVersionKind().Group == "" && n.GetName() == o.GetNamespace() {
			return true
		}
	}
	return false
}

// Prunes lists the objects of entries as Deleted changes of product.
func Prunes(product string, entries []inventory.Entry) []Change {
	changes := make([]Change, len(entries))
	for i, e := range entries {
		changes[i] = Change{Product: product, Object: Describe(e.Object()), Action: Deleted}
	}
	return changes
}

// Unified returns a unified diff of live against merged as YAML, without
// the server-maintained metadata that always differs.
func Unified(live, merged *unstructured.Unstructured) (string, error) {
	return UnifiedBetween(live, merged, "live", "git")
}

// UnifiedBetween is Unified with the two sides named from and to.
func UnifiedBetween(before, after *unstructured.Unstructured, from, to string) (string, error) {
	a, err := comparable(before)
	if err != nil {
		return "", err
	}
	b, err := comparable(after)
	if err != nil {
		return "", err
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: from, ToFile: to, Context: 3,
	})
}

func comparable(o *unstructured.Unstructured) (string, error) {
	c := o.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	out, err := yaml.Marshal(c.Object)
	return string(out), err
}

// Describe names an object as "Kind/namespace/name" or "Kind/name".
func Describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return strings.Join([]string{o.GetKind(), o.GetNamespace(), o.GetName()}, "/")
}
