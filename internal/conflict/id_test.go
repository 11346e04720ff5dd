package conflict

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

var idDeployWeb = ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}

func TestIDShape(t *testing.T) {
	long := strings.Repeat("a", 80)
	tests := []struct {
		name       string
		site       string
		obj        ObjectRef
		field      string
		wantPrefix string // the ID without its hash
	}{
		{"deployment", "eu-1", idDeployWeb, "/spec/replicas", "deployment-web"},
		{"dots and case", "eu-1", ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "App.Config_v2"}, "/data/k", "configmap-app-config-v2"},
		{"cluster scoped", "eu-1", ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "system:viewer"}, "/rules", "clusterrole-system-viewer"},
		{"long name is cut", "eu-1", ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: long}, "/data/k", ("configmap-" + long)[:52]},
		{"cut never ends in a dash", "eu-1", ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: strings.Repeat("a", 41) + "-b"}, "/data", "configmap-" + strings.Repeat("a", 41)},
		{"nothing usable", "", ObjectRef{Kind: "---", Name: "ÄÖÜ"}, "", ""},
	}
	hashed := regexp.MustCompile(`^[0-9a-f]{10}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ID(tt.site, tt.obj, tt.field)
			if errs := validation.IsDNS1123Label(id); len(errs) > 0 {
				t.Fatalf("ID %q is not a DNS-1123 label: %v", id, errs)
			}
			prefix, hash := "", id
			if i := strings.LastIndexByte(id, '-'); i >= 0 {
				prefix, hash = id[:i], id[i+1:]
			}
			if prefix != tt.wantPrefix || !hashed.MatchString(hash) {
				t.Errorf("ID = %q, want %q followed by -<10 hex>", id, tt.wantPrefix)
			}
			if again := ID(tt.site, tt.obj, tt.field); again != id {
				t.Errorf("ID is not deterministic: %q then %q", id, again)
			}
		})
	}
}

// The ID is the name of objects already stored in clusters: changing how it
// is computed would orphan them and record every open conflict twice. The
// want value was computed independently (Python hashlib over the same
// length-prefixed parts).
func TestIDIsStableAcrossReleases(t *testing.T) {
	if got, want := ID("eu-1", idDeployWeb, "/spec/replicas"), "deployment-web-ba4583f385"; got != want {
		t.Errorf("ID = %q, want %q (the ID scheme changed: existing Conflict objects would be duplicated)", got, want)
	}
}

func TestIDDistinguishesEveryPart(t *testing.T) {
	base := ID("eu-1", idDeployWeb, "/spec/replicas")
	variants := map[string]string{}
	with := func(f func(*ObjectRef)) ObjectRef { o := idDeployWeb; f(&o); return o }
	variants["site"] = ID("eu-2", idDeployWeb, "/spec/replicas")
	variants["apiVersion"] = ID("eu-1", with(func(o *ObjectRef) { o.APIVersion = "apps/v2" }), "/spec/replicas")
	variants["kind"] = ID("eu-1", with(func(o *ObjectRef) { o.Kind = "StatefulSet" }), "/spec/replicas")
	variants["namespace"] = ID("eu-1", with(func(o *ObjectRef) { o.Namespace = "shop2" }), "/spec/replicas")
	variants["name"] = ID("eu-1", with(func(o *ObjectRef) { o.Name = "web2" }), "/spec/replicas")
	variants["field"] = ID("eu-1", idDeployWeb, "/spec/template/spec/containers/0/image")
	// Parts are length-prefixed: moving a character from one part to the
	// next must change the hash.
	variants["boundary"] = ID("eu-1", with(func(o *ObjectRef) { o.Namespace, o.Name = "sho", "pweb" }), "/spec/replicas")
	for part, id := range variants {
		if id == base {
			t.Errorf("changing the %s left the ID unchanged: %q", part, id)
		}
	}
}

func FuzzID(f *testing.F) {
	f.Add("eu-1", "apps/v1", "Deployment", "shop", "web", "/spec/replicas", "/spec/template/spec/containers/0/image")
	f.Add("", "", "", "", "", "", "/x")
	f.Add("s", "v1", "ConfigMap", "", strings.Repeat("x.", 200), "/data/a~1b", "/data/a/b")
	f.Add("s", "v1", "Kind-", "-", "-Name-", "/a", "/b")
	f.Fuzz(func(t *testing.T, site, apiVersion, kind, namespace, name, field, other string) {
		obj := ObjectRef{APIVersion: apiVersion, Kind: kind, Namespace: namespace, Name: name}
		id := ID(site, obj, field)
		if errs := validation.IsDNS1123Label(id); len(errs) > 0 {
			t.Fatalf("ID(%q, %+v, %q) = %q is not a DNS-1123 label: %v", site, obj, field, id, errs)
		}
		if errs := validation.IsDNS1123Subdomain(id); len(errs) > 0 {
			t.Fatalf("ID %q is not a valid object name: %v", id, errs)
		}
		if field != other && ID(site, obj, other) == id {
			t.Fatalf("fields %q and %q share the ID %q", field, other, id)
		}
	})
}

// Secret values are keyed hashes (issue 13, item 6): the same value hashes
// differently under two sites' keys, and never to its plain SHA-256.
func TestHashValueIsKeyed(t *testing.T) {
	value := []byte(`"czNjcmV0"`)
	a, b := HashValue([]byte("key-of-site-a-0123456789"), value), HashValue([]byte("key-of-site-b-0123456789"), value)
	plain := sha256.Sum256(value)
	if a == b || !strings.HasPrefix(a, HashPrefix) || strings.Contains(a, hex.EncodeToString(plain[:])) {
		t.Errorf("HashValue = %q and %q for two keys, want two different keyed hashes, not the plain SHA-256", a, b)
	}
	if got := HashValue(nil, value); got != "(hidden)" {
		t.Errorf("HashValue without a key = %q, want (hidden)", got)
	}
	secret := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret"}}
	if got := encodeValue(secret, "czNjcmV0", []byte("key-of-site-a-0123456789")); got != a {
		t.Errorf("encodeValue of a Secret value = %q, want %q", got, a)
	}
}
