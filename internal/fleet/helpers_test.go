package fleet

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"testing/fstest"
)

// testKey is a throwaway ECDSA P-256 public key.
const testKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9ab/Fzf5/t/pbsKO8/qsOqFRez5d
WNKWUjHJL8aWUK8hSQ4YrjymIwtRXG1+59eHKxB5PkRvdPERZt4IEBAioQ==
-----END PUBLIC KEY-----
`

const kustomization = "resources: []\n"

// baseFiles is a small valid fleet repo that tests modify.
func baseFiles() map[string]string {
	return map[string]string{
		"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  pipelines:
    - product: "*"
      stages:
        - from: dev
          to: staging
          timed: {duration: 1h}
`,
		"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
  labels: {class: prod, region: us-east-1}
spec:
  channel: prod
`,
		"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
  labels: {owner: team-identity}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: auth
`,
		"products/auth/releases/1.0.0/kustomization.yaml": kustomization,
		"products/auth/releases/1.1.0/kustomization.yaml": kustomization,
		"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  dev: 1.1.0
  prod: 1.0.0
`,
		"keys/trusted.pub": testKey,
	}
}

// mapFS builds a file system from base with files replaced (or, for an
// empty content, removed).
func mapFS(base, changes map[string]string) fstest.MapFS {
	files := maps.Clone(base)
	for name, content := range changes {
		if content == "" {
			delete(files, name)
			continue
		}
		files[name] = content
	}
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

// errorStrings returns the text of each problem joined in err.
func errorStrings(err error) []string {
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range joined.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}

// mustLoad loads fsys and fails the test on any problem.
func mustLoad(t *testing.T, fsys fstest.MapFS) *Repo {
	t.Helper()
	repo, err := Load(fsys)
	if err != nil {
		t.Fatalf("Load: unexpected problems:\n%v", err)
	}
	return repo
}

func names(products []*Product) []string {
	out := make([]string, len(products))
	for i, p := range products {
		out[i] = p.Name
	}
	return slices.Clip(out)
}
