package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The watches' caches hold every object of the site, so what they keep of
// each is what the watcher's decisions read, nothing more: the object's
// identity, a digest of what syncd applies (appliedChanged compares digests)
// and, for changedByOthers, who wrote it and when (managedFields without
// their field sets, which are most of an object's bytes). Spec, data,
// status, labels and annotations (the last-applied configuration of
// `kubectl apply` included) are dropped once digested.

// appliedDigestKey is the top-level field of a trimmed object that holds the
// digest of its applied part. No Kubernetes object has such a field: a key
// with a dot cannot be a field of a served schema's top level.
const appliedDigestKey = "syncd.dev/applied-digest"

// trimForWatch is the watches' cache transform (cache.TransformFunc): it
// replaces an *unstructured.Unstructured with trimmed(u) and returns
// anything else (a DeletedFinalStateUnknown, say) as it is.
func trimForWatch(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	return trimmed(u), nil
}

// trimmed returns the part of u the watcher reads: apiVersion, kind, the
// identity and version of metadata, managedFields without fieldsV1, and the
// digest of u's applied part. A trimmed object is returned as it is.
func trimmed(u *unstructured.Unstructured) *unstructured.Unstructured {
	if _, ok := u.Object[appliedDigestKey]; ok {
		return u
	}
	out := map[string]any{appliedDigestKey: appliedDigest(u)}
	for _, k := range []string{"apiVersion", "kind"} {
		if v, ok := u.Object[k]; ok {
			out[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		m := map[string]any{}
		for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "deletionTimestamp"} {
			if v, ok := md[k]; ok {
				m[k] = v
			}
		}
		if mfs, ok := md["managedFields"].([]any); ok {
			kept := make([]any, 0, len(mfs))
			for _, e := range mfs {
				entry, ok := e.(map[string]any)
				if !ok {
					continue
				}
				slim := make(map[string]any, len(entry))
				for k, v := range entry {
					if k != "fieldsV1" {
						slim[k] = v
					}
				}
				kept = append(kept, slim)
			}
			m["managedFields"] = kept
		}
		out["metadata"] = m
	}
	return &unstructured.Unstructured{Object: out}
}

// appliedDigest is a digest of appliedPart(u), or the digest a trimmed u
// carries. JSON encodes maps with sorted keys, so equal parts have equal
// digests.
func appliedDigest(u *unstructured.Unstructured) string {
	if d, ok := u.Object[appliedDigestKey].(string); ok {
		return d
	}
	data, err := json.Marshal(appliedPart(u))
	if err != nil {
		// Not JSON-encodable (never from the API server): a digest of
		// nothing would hide changes, so make it unique to u.
		return "unencodable:" + u.GetResourceVersion() + ":" + string(u.GetUID())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
