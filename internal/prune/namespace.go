package prune

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Blockers returns, sorted, the objects of a Namespace's contents that keep
// syncd from deleting it: every object except those this prune deletes
// (going), the objects they own (by owner reference, transitively, and a
// Service's Endpoints), objects being deleted already, Events, the default
// ServiceAccount and the kube-root-ca.crt ConfigMap every namespace gets.
func Blockers(contents []metav1.PartialObjectMetadata, going func(object.ObjMetadata) bool) []string {
	ours := map[types.UID]bool{}
	services := map[string]bool{}
	derived := make([]bool, len(contents))
	for i := range contents {
		if going(idOf(&contents[i])) {
			derived[i], ours[contents[i].UID] = true, true
			if gk := contents[i].GroupVersionKind().GroupKind(); gk == (schema.GroupKind{Kind: "Service"}) {
				services[contents[i].Name] = true
			}
		}
	}
	// Owners before owned is not guaranteed: repeat until nothing changes
	// (Deployment -> ReplicaSet -> Pod takes two rounds at most).
	for changed := true; changed; {
		changed = false
		for i := range contents {
			if derived[i] || !ownedBy(&contents[i], ours, services) {
				continue
			}
			derived[i], ours[contents[i].UID], changed = true, true, true
		}
	}
	var out []string
	for i := range contents {
		if !derived[i] && !ignored(&contents[i]) && contents[i].DeletionTimestamp == nil {
			out = append(out, describe(&contents[i]))
		}
	}
	slices.Sort(out)
	return out
}

func ownedBy(o *metav1.PartialObjectMetadata, owners map[types.UID]bool, services map[string]bool) bool {
	for _, ref := range o.OwnerReferences {
		if owners[ref.UID] {
			return true
		}
	}
	// The endpoints controller names a Service's Endpoints after it and
	// sets no owner reference.
	return o.GroupVersionKind().GroupKind() == schema.GroupKind{Kind: "Endpoints"} && services[o.Name]
}

// ignored reports whether the cluster puts o in every namespace, or o is a
// record of what happened rather than a thing that runs or holds data.
func ignored(o *metav1.PartialObjectMetadata) bool {
	gk := o.GroupVersionKind().GroupKind()
	switch {
	case gk.Kind == "Event" && (gk.Group == "" || gk.Group == "events.k8s.io"):
		return true
	case gk == schema.GroupKind{Kind: "ServiceAccount"} && o.Name == "default":
		return true
	case gk == schema.GroupKind{Kind: "ConfigMap"} && o.Name == "kube-root-ca.crt":
		return true
	}
	return false
}

func idOf(o *metav1.PartialObjectMetadata) object.ObjMetadata {
	return object.ObjMetadata{Namespace: o.Namespace, Name: o.Name, GroupKind: o.GroupVersionKind().GroupKind()}
}

func describe(o *metav1.PartialObjectMetadata) string {
	gvk := o.GroupVersionKind()
	kind := gvk.Kind
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	return kind + "/" + o.Name
}

// Describe summarizes blockers for a report, naming at most a few.
func Describe(namespace string, blockers []string) string {
	const show = 5
	list := strings.Join(blockers[:min(len(blockers), show)], ", ")
	if len(blockers) > show {
		list += fmt.Sprintf(" and %d more", len(blockers)-show)
	}
	return fmt.Sprintf("Namespace %s not pruned: it holds %d object(s) syncd did not apply (%s)", namespace, len(blockers), list)
}

// skippedGroups serve views of other objects, not objects of their own.
var skippedGroups = map[string]bool{"metrics.k8s.io": true}

// Contents lists the metadata of every object in namespace, of every
// namespaced kind the API server serves. A kind that cannot be discovered or
// listed is an error: what the namespace holds must be known before it is
// deleted.
func Contents(ctx context.Context, disc discovery.ServerResourcesInterface, c client.Reader, namespace string) ([]metav1.PartialObjectMetadata, error) {
	lists, err := disc.ServerPreferredNamespacedResources()
	if err != nil {
		return nil, fmt.Errorf("discovering the kinds namespace %s may hold: %w", namespace, err)
	}
	var out []metav1.PartialObjectMetadata
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil || skippedGroups[gv.Group] {
			continue
		}
		for _, res := range l.APIResources {
			if !res.Namespaced || strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") {
				continue
			}
			gvk := gv.WithKind(res.Kind)
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gv.WithKind(res.Kind + "List"))
			err := c.List(ctx, list, client.InNamespace(namespace))
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("listing %s in namespace %s: %w", res.Name, namespace, err)
			}
			for i := range list.Items {
				list.Items[i].SetGroupVersionKind(gvk)
				out = append(out, list.Items[i])
			}
		}
	}
	return out, nil
}
