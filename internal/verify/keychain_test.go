package verify_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/syncd-dev/syncd/internal/verify"
)

func TestParseKeychain(t *testing.T) {
	kc, err := verify.ParseKeychain([]byte(`{
  "auths": {
    "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
    "127.0.0.1:5000": {"username": "ci", "password": "secret"}
  },
  "psFormat": "table"
}`))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"library/busybox:1":    "user:pass",
		"127.0.0.1:5000/app:1": "ci:secret",
		"other.example/app:1":  "",
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := authn.Authorization(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Username + ":" + cfg.Password; want != "" && got != want || want == "" && a != authn.Anonymous {
			t.Errorf("%s: credentials %q, want %q", ref, got, want)
		}
	}
	for _, bad := range []string{`{"credsStore": "desktop"}`, `{"auths": {"x": {"auth": "!!"}}}`, `not json`} {
		if _, err := verify.ParseKeychain([]byte(bad)); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

func FuzzParseKeychain(f *testing.F) {
	f.Add([]byte(`{"auths": {"r.test": {"auth": "dTpw"}}}`))
	f.Add([]byte(`{"credHelpers": {"r.test": "x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kc, err := verify.ParseKeychain(data)
		if err == nil && kc == nil {
			t.Fatal("nil keychain without error")
		}
	})
}
