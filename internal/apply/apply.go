// Package apply applies rendered objects to the cluster with server-side
// apply (field manager "syncd", through fluxcd/pkg/ssa), staged so CRDs and
// Namespaces come first, and prunes objects that left the render.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/redact"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

// FieldManager is the server-side apply field manager syncd applies as.
const FieldManager = wellknown.FieldManager

// applyConcurrency is how many objects of one product are dry-run and
// applied at once.
const applyConcurrency = 4

// Applier applies and prunes objects of one site.
type Applier struct {
	rm     *ssa.ResourceManager
	client client.Client
	site   string
}

// New returns an Applier for site. mapper resolves kinds for status polling.
func New(c client.Client, mapper meta.RESTMapper, site string) *Applier {
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	rm := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "syncd.dev"})
	rm.SetConcurrency(applyConcurrency)
	return &Applier{rm: rm, client: c, site: site}
}

// Options tune one Apply.
type Options struct {
	// ForceRecreate deletes and recreates objects whose change touches an
	// immutable field; otherwise such a change is an error.
	ForceRecreate bool
	// WaitTimeout bounds the wait for CRDs and Namespaces to be ready before
	// the objects that need them are applied.
	WaitTimeout time.Duration
	// Known reports whether an object is known to be live (the caller's
	// index of the site's objects). An object it does not know is dry-run
	// without being read first and, when the dry-run shows it does not
	// exist, created without a comparison, concurrently with the other new
	// objects of its kind: one request less per new object. Every dry-run of
	// a stage still passes before anything of it is applied. Nil: every
	// object is read, dry-run and compared.
	Known func(*unstructured.Unstructured) bool
}

// Apply applies objs in stages and returns what changed. On error the change
// set holds what was applied before the failure, and the error carries no
// value of a Secret among objs (the API server echoes some).
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*ssa.ChangeSet, error) {
	cs, err := a.apply(ctx, objs, opts)
	return cs, redact.Error(err, objs...)
}

func (a *Applier) apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*ssa.ChangeSet, error) {
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = time.Minute
	}
	ao := ssa.DefaultApplyOptions()
	ao.WaitTimeout = opts.WaitTimeout
	ao.WaitInterval = 500 * time.Millisecond
	cs, err := a.applyStaged(ctx, objs, ao, opts.Known)
	// Recreate one object at a time, and only the one the API server named
	// in a real immutable-field refusal: ssa's Force applies to every object
	// of the call and deletes any object whose update is merely invalid.
	for tries := 0; err != nil && opts.ForceRecreate && tries < len(objs); tries++ {
		target := immutableObject(err)
		if target == nil {
			break
		}
		if rerr := a.recreate(ctx, target, ao.WaitInterval, opts.WaitTimeout); rerr != nil {
			return cs, fmt.Errorf("%w; recreating it: %w", err, rerr)
		}
		cs, err = a.applyStaged(ctx, objs, ao, opts.Known)
	}
	if err != nil {
		return cs, describeApplyError(err)
	}
	return cs, nil
}

// immutableObject returns the object whose dry-run the API server refused
// because an immutable field changed, or nil when err is anything else.
func immutableObject(err error) *unstructured.Unstructured {
	var dr *ssaerrors.DryRunErr
	if !immutable(err) || !errors.As(err, &dr) || dr.InvolvedObject() == nil {
		return nil
	}
	return dr.InvolvedObject()
}

// recreate deletes the live object of o (this exact object: a UID
// precondition) and waits until it is gone, so the next apply creates it.
func (a *Applier) recreate(ctx context.Context, o *unstructured.Unstructured, interval, timeout time.Duration) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	key := client.ObjectKeyFromObject(o)
	if err := a.client.Get(ctx, key, live); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading %s: %w", describe(o), err)
	}
	err := a.client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: ptr.To(live.GetUID())})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s: %w", describe(o), err)
	}
	return wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(o.GroupVersionKind())
		err := a.client.Get(ctx, key, cur)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		// Gone once the old object is, even if someone created a new one.
		return err == nil && cur.GetUID() != live.GetUID(), err
	})
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

// Pruned says what became of each object Prune was given.
type Pruned struct {
	// Deleted were deleted now.
	Deleted []inventory.Entry
	// Gone were not there any more, or their kind is no longer served (its
	// CustomResourceDefinition was deleted): not pruned by this sync.
	Gone []inventory.Entry
	// Skipped carry another site's or product's labels (someone took them
	// over) or syncd.dev/prune: disabled.
	Skipped []inventory.Entry
}

// Prune deletes the objects of entries that still carry this site's and
// product's labels and are not annotated syncd.dev/prune: disabled, in the
// reverse of the apply order (custom resources before their definitions,
// namespaces last). Objects already gone are reported as such. On error
// Pruned holds what was done before and after the failure.
func (a *Applier) Prune(ctx context.Context, product string, entries []inventory.Entry) (Pruned, error) {
	var res Pruned
	byObject := make(map[*unstructured.Unstructured]inventory.Entry, len(entries))
	objs := make([]*unstructured.Unstructured, len(entries))
	for i, e := range entries {
		objs[i] = e.Object()
		byObject[objs[i]] = e
	}
	sort.Sort(sort.Reverse(ssa.SortableUnstructureds(objs)))
	var errs []error
	for _, o := range objs {
		e := byObject[o]
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err := a.client.Get(ctx, client.ObjectKeyFromObject(o), live)
		if gone(err) {
			res.Gone = append(res.Gone, e)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pruning %s: %w", describe(o), err))
			continue
		}
		l := live.GetLabels()
		if l[wellknown.LabelSite] != a.site || l[wellknown.LabelProduct] != product || live.GetAnnotations()[wellknown.AnnotationPrune] == wellknown.PruneDisabled {
			res.Skipped = append(res.Skipped, e)
			continue
		}
		err = a.client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: ptr.To(live.GetUID())})
		switch {
		case gone(err) || apierrors.IsConflict(err):
			// Deleted meanwhile (and maybe recreated by someone else).
			res.Gone = append(res.Gone, e)
		case err != nil:
			errs = append(errs, fmt.Errorf("pruning %s: %w", describe(o), err))
		default:
			res.Deleted = append(res.Deleted, e)
		}
	}
	return res, errors.Join(errs...)
}

// gone reports whether err says the object, or its kind, does not exist.
func gone(err error) bool {
	return err != nil && (apierrors.IsNotFound(err) || meta.IsNoMatchError(err))
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// ResourceManager exposes the underlying ssa manager, for diffing.
func (a *Applier) ResourceManager() *ssa.ResourceManager { return a.rm }
