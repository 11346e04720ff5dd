package fleet

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func productFile(name, targets string) string {
	return fmt.Sprintf(`apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: %s
spec:
  targets: %q
`, name, targets)
}

func siteFile(name, labels string) string {
	return fmt.Sprintf(`apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: %s
  labels: %s
spec:
  channel: prod
`, name, labels)
}

func TestProductsFor(t *testing.T) {
	base := baseFiles()
	for name := range base {
		if strings.Contains(name, "auth") {
			delete(base, name)
		}
	}
	products := map[string]string{
		"all":         "true",
		"none":        "",
		"prod-us":     "site.labels.class == 'prod' && site.labels.region.startsWith('us-')",
		"by-name":     "site.name in ['edge-1', 'cloud-1']",
		"has-gpu":     "has(site.labels.gpu)",
		"not-airgap":  "site.labels.?type.orValue('') != 'airgapped'",
		"edge-absorb": "site.labels.type == 'edge' && site.labels.store.size() > 0",
	}
	changes := map[string]string{
		"sites/s1/site.yaml":      "",
		"sites/cloud-1/site.yaml": siteFile("cloud-1", "{class: prod, region: us-east-1, type: cloud, gpu: a100}"),
		"sites/eu-1/site.yaml":    siteFile("eu-1", "{class: prod, region: eu-west-1, type: cloud}"),
		"sites/edge-1/site.yaml":  siteFile("edge-1", "{type: edge, store: '042'}"),
		"sites/vault/site.yaml":   siteFile("vault", "{class: prod, region: us-gov-1, type: airgapped}"),
		"sites/bare/site.yaml":    siteFile("bare", "{}"),
	}
	for name, targets := range products {
		changes["products/"+name+"/product.yaml"] = productFile(name, targets)
	}
	repo := mustLoad(t, mapFS(base, changes))

	tests := []struct {
		site    string
		want    []string
		wantErr []string // products whose targets fail for the site
	}{
		{site: "cloud-1", want: []string{"all", "by-name", "has-gpu", "not-airgap", "prod-us"}},
		{site: "eu-1", want: []string{"all", "not-airgap"}},
		{site: "edge-1", want: []string{"all", "by-name", "edge-absorb", "not-airgap"}, wantErr: []string{"prod-us"}},
		{site: "vault", want: []string{"all", "prod-us"}},
		{site: "bare", want: []string{"all", "not-airgap"}, wantErr: []string{"edge-absorb", "prod-us"}},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			got, err := repo.ProductsFor(tt.site)
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("ProductsFor(%s) = %v, want %v", tt.site, names(got), tt.want)
			}
			errs := errorStrings(err)
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("ProductsFor(%s) errors = %q, want failures of %v", tt.site, errs, tt.wantErr)
			}
			for i, p := range tt.wantErr {
				prefix := fmt.Sprintf("products/%s/product.yaml:6: spec.targets: site %s: no such key:", p, tt.site)
				if !strings.HasPrefix(errs[i], prefix) {
					t.Errorf("error %q does not start with %q", errs[i], prefix)
				}
			}
		})
	}
	if _, err := repo.ProductsFor("nowhere"); err == nil {
		t.Error("ProductsFor(unknown site) succeeded")
	}
}

func TestTargetsSiteRuntimeErrors(t *testing.T) {
	list := "[" + strings.Repeat("1,", 199) + "1]"
	changes := map[string]string{
		"products/dyn/product.yaml":    productFile("dyn", "dyn(site.name)"),
		"products/costly/product.yaml": productFile("costly", list+".all(a, "+list+".all(b, "+list+".all(c, a == b)))"),
	}
	repo := mustLoad(t, mapFS(baseFiles(), changes))
	site := repo.Sites["s1"]
	tests := []struct {
		product string
		want    string
	}{
		{"dyn", "products/dyn/product.yaml:6: spec.targets: site s1: must evaluate to a bool, got string"},
		{"costly", "products/costly/product.yaml:6: spec.targets: site s1: operation cancelled: actual cost limit exceeded"},
	}
	for _, tt := range tests {
		_, err := repo.Products[tt.product].TargetsSite(site)
		if err == nil || err.Error() != tt.want {
			t.Errorf("TargetsSite(%s) error = %v, want %s", tt.product, err, tt.want)
		}
	}
}
