package fleet

import (
	"fmt"
	"strings"
	"testing"
)

func resolveFiles() map[string]string {
	files := baseFiles()
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0"} {
		files["products/auth/releases/"+v+"/kustomization.yaml"] = kustomization
	}
	files["products/auth/releases/1.2.0/release.yaml"] = `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: auth-1.2.0
spec:
  recalled: true
  reason: crash loop on arm64
`
	files["channels/auth.yaml"] = `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  dev: 2.0.0
  staging: 1.2.0
  prod: 1.1.0
`
	sites := map[string]string{
		"on-prod":    "channel: prod",
		"on-dev":     "channel: dev",
		"on-staging": "channel: staging",
		"pinned":     "channel: prod\n  products:\n    auth: {channel: dev}",
		"capped":     "channel: dev\n  products:\n    auth: {maxVersion: 1.99.0}",
		"capped-low": "channel: prod\n  products:\n    auth: {maxVersion: 0.9.0}",
		"uncapped":   "channel: prod\n  products:\n    auth: {maxVersion: 3.0.0}",
		"cap-exact":  "channel: dev\n  products:\n    auth: {maxVersion: 1.1.0}",
	}
	for name, spec := range sites {
		files["sites/"+name+"/site.yaml"] = fmt.Sprintf(`apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: %s
spec:
  %s
`, name, spec)
	}
	return files
}

func TestResolve(t *testing.T) {
	repo := mustLoad(t, mapFS(resolveFiles(), nil))
	tests := []struct {
		site        string
		wantChannel string
		wantVersion string // "" when not deployed
		wantReason  string
		wantSubst   string
	}{
		{"on-prod", "prod", "1.1.0", "channel prod points to 1.1.0", ""},
		{"on-dev", "dev", "2.0.0", "channel dev points to 2.0.0", ""},
		{"pinned", "dev", "2.0.0", "per-product channel dev points to 2.0.0", ""},
		{"on-staging", "staging", "1.1.0", "channel staging points to 1.2.0; 1.2.0 is recalled (crash loop on arm64); using 1.1.0",
			"channel staging says 1.2.0 (recalled: crash loop on arm64); running 1.1.0"},
		{"capped", "dev", "1.1.0", "channel dev points to 2.0.0; capped by maxVersion 1.99.0; using 1.1.0",
			"channel dev says 2.0.0 (above maxVersion 1.99.0); running 1.1.0"},
		{"cap-exact", "dev", "1.1.0", "channel dev points to 2.0.0; capped by maxVersion 1.1.0; using 1.1.0",
			"channel dev says 2.0.0 (above maxVersion 1.1.0); running 1.1.0"},
		{"uncapped", "prod", "1.1.0", "channel prod points to 1.1.0", ""},
		{"s1", "prod", "1.1.0", "channel prod points to 1.1.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			res, err := repo.Resolve(tt.site, "auth")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.Channel != tt.wantChannel || res.Version.Original() != tt.wantVersion || res.Reason != tt.wantReason {
				t.Errorf("Resolve = {channel %s, version %s, reason %q}, want {%s, %s, %q}",
					res.Channel, res.Version, res.Reason, tt.wantChannel, tt.wantVersion, tt.wantReason)
			}
			if res.Substituted != tt.wantSubst {
				t.Errorf("Substituted = %q, want %q", res.Substituted, tt.wantSubst)
			}
			if res.Release == nil || res.Release.Spec.Recalled || res.Release.Dir != "products/auth/releases/"+tt.wantVersion {
				t.Errorf("Release = %+v, want the non-recalled release %s", res.Release, tt.wantVersion)
			}
		})
	}
}

func TestAbbreviate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"crash loop on arm64", "crash loop on arm64"},
		{"token cache leaks memory under load; canary aws-us-east-1-prod OOMKilled", "token cache leaks memory…"},
		{"leaks; OOM", "leaks…"},
		{"averyveryverylongwordwithoutanyspaceatall", "averyveryverylongwordwit…"},
		{"  spread\n over   lines ", "spread over lines"},
	}
	for _, tt := range tests {
		if got := abbreviate(tt.in, maxWhyReason); got != tt.want {
			t.Errorf("abbreviate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResolveNotDeployed(t *testing.T) {
	files := resolveFiles()
	files["sites/pinned/site.yaml"] = strings.Replace(files["sites/pinned/site.yaml"], "{channel: dev}", "{channel: staging}", 1)
	files["channels/auth.yaml"] = strings.Replace(files["channels/auth.yaml"], "  staging: 1.2.0\n", "", 1)
	repo := mustLoad(t, mapFS(files, nil))
	res, err := repo.Resolve("pinned", "auth")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := "channels/auth.yaml has no entry for channel staging"
	if !res.NotDeployed || res.Release != nil || res.Version != nil || res.Reason != want {
		t.Errorf("Resolve = %+v, want NotDeployed with reason %q", res, want)
	}

	delete(files, "channels/auth.yaml")
	repo = mustLoad(t, mapFS(files, nil))
	res, err = repo.Resolve("on-prod", "auth")
	if err != nil || !res.NotDeployed || res.Reason != "no channels/auth.yaml" {
		t.Errorf("Resolve without a channels file = %+v, %v; want NotDeployed", res, err)
	}
}

func TestResolveErrors(t *testing.T) {
	files := resolveFiles()
	files["sites/all-recalled/site.yaml"] = `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: all-recalled
spec:
  channel: staging
  products:
    auth: {maxVersion: 1.0.0}
`
	files["products/auth/releases/1.0.0/release.yaml"] = `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: auth-1.0.0
spec:
  recalled: true
`
	repo := mustLoad(t, mapFS(files, nil))
	tests := []struct {
		site, product, want string
	}{
		{"capped-low", "auth", "resolving auth at site capped-low: no release at or below 0.9.0 that is not recalled (channel prod points to 1.1.0; capped by maxVersion 0.9.0)"},
		{"all-recalled", "auth", "resolving auth at site all-recalled: no release at or below 1.0.0 that is not recalled (channel staging points to 1.2.0; capped by maxVersion 1.0.0)"},
		{"nowhere", "auth", `no site "nowhere" in the fleet repo`},
		{"on-prod", "billing", `no product "billing" in the fleet repo`},
	}
	for _, tt := range tests {
		res, err := repo.Resolve(tt.site, tt.product)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Resolve(%s, %s) error = %v, want %s", tt.site, tt.product, err, tt.want)
		}
		if res.Release != nil {
			t.Errorf("Resolve(%s, %s) returned release %s with an error", tt.site, tt.product, res.Release.Version)
		}
	}
}
