package verify

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// podSpecPaths are where the pod spec sits in the objects that run
// containers, by kind.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containerLists are the pod spec fields that hold containers.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// Image is one container image reference in an object.
type Image struct {
	// Ref is the reference as written, such as registry.example/app:1.2.
	Ref string
	// Object is the object that holds it, as Kind/namespace/name.
	Object string
}

// Images returns the container images of objs (containers, init containers
// and ephemeral containers of the pod templates of workload kinds, CronJobs
// and Pods), in object order.
func Images(objs []*unstructured.Unstructured) []Image {
	var out []Image
	for _, o := range objs {
		eachImage(o, func(ref string) string {
			out = append(out, Image{Ref: ref, Object: describe(o)})
			return ref
		})
	}
	return out
}

// Refs returns the distinct image references of objs, sorted.
func Refs(objs []*unstructured.Unstructured) []string {
	var refs []string
	for _, img := range Images(objs) {
		refs = append(refs, img.Ref)
	}
	slices.Sort(refs)
	return slices.Compact(refs)
}

// Pin returns copies of objs in which every image whose reference is a key
// of digests is pinned to its digest (ref@sha256:...). Objects without
// images are returned as they are.
func Pin(objs []*unstructured.Unstructured, digests map[string]string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		if len(Images([]*unstructured.Unstructured{o})) == 0 {
			out[i] = o
			continue
		}
		c := o.DeepCopy()
		eachImage(c, func(ref string) string {
			if d, ok := digests[ref]; ok {
				return pinned(ref, d)
			}
			return ref
		})
		out[i] = c
	}
	return out
}

// pinned is ref with digest: ref@digest, or ref unchanged when it already
// names that digest.
func pinned(ref, digest string) string {
	if strings.HasSuffix(ref, "@"+digest) {
		return ref
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	return ref + "@" + digest
}

// eachImage calls fn with every image reference of o and stores what fn
// returns in its place.
func eachImage(o *unstructured.Unstructured, fn func(string) string) {
	path, ok := podSpecPaths[o.GetKind()]
	if !ok {
		return
	}
	spec, found, err := unstructured.NestedMap(o.Object, path...)
	if !found || err != nil {
		return
	}
	changed := false
	for _, field := range containerLists {
		list, ok := spec[field].([]any)
		if !ok {
			continue
		}
		for _, c := range list {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if ref, ok := m["image"].(string); ok && ref != "" {
				if next := fn(ref); next != ref {
					m["image"] = next
					changed = true
				}
			}
		}
	}
	if changed {
		// NestedMap returned a deep copy; write the changes back.
		_ = unstructured.SetNestedMap(o.Object, spec, path...)
	}
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
