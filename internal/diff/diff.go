// Package diff tells what a sync would change at a site: per object created,
// configured (drifted), unchanged or deleted (would prune), with a readable
// field-level diff from a server-side apply dry run. Secret values are masked.
package diff

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/ssa"
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/inventory"
)

// Action is what a sync would do to one object.
type Action string

// The actions of `syncd diff`.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Deleted    Action = "deleted"
)

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
func Objects(ctx context.Context, d Differ, product string, objs []*unstructured.Unstructured) ([]Change, error) {
	changes := make([]Change, 0, len(objs))
	for _, o := range objs {
		entry, live, merged, err := d.Diff(ctx, o.DeepCopy(), ssa.DefaultDiffOptions())
		if err != nil {
			return changes, fmt.Errorf("diffing %s: %w", Describe(o), err)
		}
		c := Change{Product: product, Object: Describe(o)}
		switch entry.Action {
		case ssa.CreatedAction:
			c.Action = Created
		case ssa.ConfiguredAction:
			c.Action = Configured
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
	a, err := comparable(live)
	if err != nil {
		return "", err
	}
	b, err := comparable(merged)
	if err != nil {
		return "", err
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: "live", ToFile: "git", Context: 3,
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
