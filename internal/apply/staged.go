package apply

import (
	"context"
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	"github.com/fluxcd/pkg/ssa/utils"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// stage is a group of objects applied together; wait says whether the
// objects must be ready before the next stage is applied.
type stage struct {
	objects []*unstructured.Unstructured
	wait    bool
}

// stages splits objs the way ssa's ApplyAllStaged does: CRDs, ClusterRoles
// and Namespaces first, then class definitions (both waited for), then the
// rest. Empty stages are left out.
func stages(objs []*unstructured.Unstructured) []stage {
	var defs, classes, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch {
		case utils.IsClusterDefinition(o):
			defs = append(defs, o)
		case utils.IsClassDefinition(o):
			classes = append(classes, o)
		default:
			rest = append(rest, o)
		}
	}
	var out []stage
	for _, st := range []stage{{defs, true}, {classes, true}, {rest, false}} {
		if len(st.objects) > 0 {
			out = append(out, st)
		}
	}
	return out
}

// kindGroups sorts objs in ssa's apply order and groups consecutive objects
// of the same kind: groups are applied in order, the objects of a group at
// once.
func kindGroups(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.Sort(ssa.SortableUnstructureds(sorted))
	var groups [][]*unstructured.Unstructured
	for i, o := range sorted {
		if i == 0 || o.GroupVersionKind().GroupKind() != sorted[i-1].GroupVersionKind().GroupKind() {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], o)
	}
	return groups
}

// applyStaged applies objs stage by stage. With known, objects it does not
// know skip the read and comparison when they turn out to be new (see
// Options.Known); without, it is ssa's ApplyAllStaged.
func (a *Applier) applyStaged(ctx context.Context, objs []*unstructured.Unstructured, ao ssa.ApplyOptions, known func(*unstructured.Unstructured) bool) (*ssa.ChangeSet, error) {
	if known == nil {
		return a.rm.ApplyAllStaged(ctx, objs, ao)
	}
	cs := ssa.NewChangeSet()
	for _, st := range stages(objs) {
		scs, err := a.applyStage(ctx, st.objects, ao, known)
		cs.Append(scs.Entries)
		if err != nil {
			return cs, err
		}
		if st.wait {
			if err := a.rm.WaitForSet(scs.ToObjMetadataSet(), ssa.WaitOptions{Interval: ao.WaitInterval, Timeout: ao.WaitTimeout}); err != nil {
				return cs, err
			}
		}
	}
	return cs, nil
}

// applyStage dry-runs the objects known does not know; those that exist
// after all join the known ones, which ssa reads, dry-runs, compares and
// applies; then the new ones are created. Nothing is applied unless every
// dry-run passed. The change set holds what was applied, also on error.
func (a *Applier) applyStage(ctx context.Context, objs []*unstructured.Unstructured, ao ssa.ApplyOptions, known func(*unstructured.Unstructured) bool) (*ssa.ChangeSet, error) {
	cs := ssa.NewChangeSet()
	var unknown, existing []*unstructured.Unstructured
	for _, o := range objs {
		if known(o) {
			existing = append(existing, o)
		} else {
			unknown = append(unknown, o)
		}
	}
	fresh, found, err := a.dryRunUnknown(ctx, unknown)
	if err != nil {
		return cs, err
	}
	existing = append(existing, found...)
	if len(existing) > 0 {
		ecs, err := a.rm.ApplyAll(ctx, existing, ao)
		if err != nil {
			return cs, err
		}
		cs.Append(ecs.Entries)
	}
	for _, group := range kindGroups(fresh) {
		created := make([]bool, len(group))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(applyConcurrency)
		for i, o := range group {
			g.Go(func() error {
				applied := o.DeepCopy()
				if err := a.client.Patch(gctx, applied, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
					return fmt.Errorf("%s apply failed: %w", utils.FmtUnstructured(applied), err)
				}
				created[i] = true
				return nil
			})
		}
		err := g.Wait()
		for i, o := range group {
			if created[i] {
				cs.Add(entry(o, ssa.CreatedAction))
			}
		}
		if err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// dryRunUnknown dry-runs objs concurrently without reading them first and
// splits them into those the dry-run would create (fresh) and those that
// exist after all (found: someone else's, or not labelled as the site's).
// A refused dry-run is an ssa DryRunErr, as from ssa itself.
func (a *Applier) dryRunUnknown(ctx context.Context, objs []*unstructured.Unstructured) (fresh, found []*unstructured.Unstructured, err error) {
	exists := make([]bool, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(applyConcurrency)
	for i, o := range objs {
		g.Go(func() error {
			utils.RemoveCABundleFromCRD(o)
			dry := o.DeepCopy()
			if err := a.client.Patch(gctx, dry, client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
				return ssaerrors.NewDryRunErr(err, dry)
			}
			exists[i] = dry.GetResourceVersion() != ""
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, o := range objs {
		if exists[i] {
			found = append(found, o)
		} else {
			fresh = append(fresh, o)
		}
	}
	return fresh, found, nil
}

// entry is the change set entry of o.
func entry(o *unstructured.Unstructured, action ssa.Action) ssa.ChangeSetEntry {
	return ssa.ChangeSetEntry{
		ObjMetadata:  object.UnstructuredToObjMetadata(o),
		GroupVersion: o.GroupVersionKind().Version,
		Subject:      utils.FmtUnstructured(o),
		Action:       action,
	}
}
