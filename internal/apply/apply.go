// Package apply applies rendered objects to the cluster with server-side
// apply (field manager "syncd", through fluxcd/pkg/ssa), staged so CRDs and
// Namespaces come first, and prunes objects that left the render.
package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/inventory"
)

// FieldManager is the server-side apply field manager syncd applies as.
const FieldManager = "syncd"

// applyConcurrency is how many objects of one product are dry-run and
// applied at once.
const applyConcurrency = 4

// Applier applies and prunes objects of one site.
type Applier struct {
	rm   *ssa.ResourceManager
	site string
}

// New returns an Applier for site. mapper resolves kinds for status polling.
func New(c client.Client, mapper meta.RESTMapper, site string) *Applier {
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "syncd.dev"})
	rm.SetConcurrency(applyConcurrency)
	return &Applier{rm: rm, site: site}
}

// Options tune one Apply.
type Options struct {
	// ForceRecreate deletes and recreates objects whose change touches an
	// immutable field; otherwise such a change is an error.
	ForceRecreate bool
	// WaitTimeout bounds the wait for CRDs and Namespaces to be ready before
	// the objects that need them are applied.
	WaitTimeout time.Duration
}

// Apply applies objs in stages and returns what changed. On error the change
// set holds what was applied before the failure.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*ssa.ChangeSet, error) {
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = time.Minute
	}
	ao := ssa.DefaultApplyOptions()
	ao.WaitTimeout = opts.WaitTimeout
	ao.WaitInterval = 500 * time.Millisecond
	cs, err := a.rm.ApplyAllStaged(ctx, objs, ao)
	if err != nil && opts.ForceRecreate && immutable(err) {
		// Only now, and only for a real immutable-field change: ssa's Force
		// deletes the live object on any invalid update, which must never
		// happen for a mere validation error.
		ao.Force = true
		cs, err = a.rm.ApplyAllStaged(ctx, objs, ao)
	}
	if err != nil {
		return cs, describeApplyError(err)
	}
	return cs, nil
}

// immutable reports whether the API server refused a change to an immutable
// field (ssa's own check also matches every invalid update).
func immutable(err error) bool {
	return ssaerrors.IsImmutableError(err) && strings.Contains(err.Error(), "field is immutable")
}

// describeApplyError adds advice to errors people can act on.
func describeApplyError(err error) error {
	if immutable(err) {
		return fmt.Errorf("%w (an immutable field changed: set `forceRecreate: true` in the product to let syncd delete and recreate the object)", err)
	}
	return err
}

// Prune deletes the objects of entries that still carry this site's and
// product's labels, so an object another product or someone else took over is
// left alone. Objects already gone are fine.
func (a *Applier) Prune(ctx context.Context, product string, entries []inventory.Entry) (*ssa.ChangeSet, error) {
	if len(entries) == 0 {
		return ssa.NewChangeSet(), nil
	}
	objs := make([]*unstructured.Unstructured, len(entries))
	for i, e := range entries {
		objs[i] = e.Object()
	}
	opts := ssa.DefaultDeleteOptions()
	opts.Inclusions = map[string]string{"syncd.dev/site": a.site, "syncd.dev/product": product}
	cs, err := a.rm.DeleteAll(ctx, objs, opts)
	if err != nil {
		return cs, fmt.Errorf("pruning: %w", err)
	}
	return cs, nil
}

// ResourceManager exposes the underlying ssa manager, for diffing.
func (a *Applier) ResourceManager() *ssa.ResourceManager { return a.rm }
