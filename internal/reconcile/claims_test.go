package reconcile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/render"
)

func configMapIn(ns, name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{}
	o.SetAPIVersion("v1")
	o.SetKind("ConfigMap")
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

// claimProduct is a product rendering objs, each declared at line 4 of
// products/<name>/releases/1.0.0/<object name>.yaml.
func claimProduct(name string, objs ...*unstructured.Unstructured) *ProductPlan {
	srcs := render.Sources{}
	for _, o := range objs {
		srcs[render.ObjectKey(o)] = render.Source{File: fmt.Sprintf("products/%s/releases/1.0.0/%s.yaml", name, o.GetName()), Line: 4}
	}
	return &ProductPlan{Name: name, Version: "1.0.0", Objects: objs, Sources: srcs}
}

func TestClaimObjects(t *testing.T) {
	shared := configMapIn("api", "api-config")
	sharedID := object.UnstructuredToObjMetadata(shared)
	many := func(product string) *ProductPlan {
		var objs []*unstructured.Unstructured
		for i := range 7 {
			objs = append(objs, configMapIn("x", fmt.Sprintf("cm-%d", i)))
		}
		return claimProduct(product, objs...)
	}
	for _, tc := range []struct {
		name     string
		products []*ProductPlan
		owners   map[object.ObjMetadata][]string
		// want is each blocked product's error; products not named must
		// stay unblocked.
		want map[string]string
	}{
		{
			name:     "no object in common",
			products: []*ProductPlan{claimProduct("api", shared), claimProduct("web", configMapIn("web", "web-config"))},
			owners:   map[object.ObjMetadata][]string{sharedID: {"api"}},
		},
		{
			name:     "the owner keeps it",
			products: []*ProductPlan{claimProduct("api", shared), claimProduct("web", configMapIn("api", "api-config"))},
			owners:   map[object.ObjMetadata][]string{sharedID: {"api"}},
			want: map[string]string{"web": "products/web/releases/1.0.0/api-config.yaml:4: metadata.name: ConfigMap/api/api-config is also rendered by product api " +
				"(products/api/releases/1.0.0/api-config.yaml:4), which owns it at this site: product web is not applied until it stops rendering it"},
		},
		{
			name:     "the owner keeps it whatever the order",
			products: []*ProductPlan{claimProduct("web", configMapIn("api", "api-config")), claimProduct("api", shared)},
			owners:   map[object.ObjMetadata][]string{sharedID: {"api"}},
			want:     map[string]string{"web": "which owns it"},
		},
		{
			name:     "nobody owns it: all are held",
			products: []*ProductPlan{claimProduct("api", shared), claimProduct("web", configMapIn("api", "api-config"))},
			want: map[string]string{
				"api": "products/api/releases/1.0.0/api-config.yaml:4: metadata.name: ConfigMap/api/api-config is also rendered by product web (products/web/releases/1.0.0/api-config.yaml:4) and no product owns it",
				"web": "also rendered by product api (products/api/releases/1.0.0/api-config.yaml:4) and no product owns it",
			},
		},
		{
			name:     "both hold it: all are held",
			products: []*ProductPlan{claimProduct("api", shared), claimProduct("web", configMapIn("api", "api-config"))},
			owners:   map[object.ObjMetadata][]string{sharedID: {"api", "web"}},
			want:     map[string]string{"api": "no product owns it", "web": "no product owns it"},
		},
		{
			name:     "an owner that no longer renders it decides nothing",
			products: []*ProductPlan{claimProduct("api"), claimProduct("web", shared), claimProduct("cache", configMapIn("api", "api-config"))},
			owners:   map[object.ObjMetadata][]string{sharedID: {"api"}},
			want:     map[string]string{"web": "no product owns it", "cache": "no product owns it"},
		},
		{
			name: "an error already there is kept",
			products: []*ProductPlan{claimProduct("api", shared), func() *ProductPlan {
				p := claimProduct("web", configMapIn("api", "api-config"))
				p.Err = fmt.Errorf("blocked by policy")
				return p
			}()},
			owners: map[object.ObjMetadata][]string{sharedID: {"api"}},
			want:   map[string]string{"web": "blocked by policy\nproducts/web/releases/1.0.0/api-config.yaml:4"},
		},
		{
			name:     "many objects in common are counted",
			products: []*ProductPlan{many("a"), many("b")},
			want:     map[string]string{"a": "and 2 more object(s) other products render too", "b": "cm-4.yaml:4"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claimObjects(tc.products, tc.owners)
			for _, pp := range tc.products {
				want, blocked := tc.want[pp.Name]
				switch {
				case !blocked && pp.Err != nil:
					t.Errorf("%s blocked: %v", pp.Name, pp.Err)
				case blocked && pp.Err == nil:
					t.Errorf("%s not blocked, want %q", pp.Name, want)
				case blocked && !strings.Contains(pp.Err.Error(), want):
					t.Errorf("%s: error %q\ndoes not contain %q", pp.Name, pp.Err, want)
				}
			}
		})
	}
}

func TestInventoryOwners(t *testing.T) {
	a, b := object.UnstructuredToObjMetadata(configMapIn("x", "a")), object.UnstructuredToObjMetadata(configMapIn("x", "b"))
	got := inventoryOwners(map[string]*inventory.Inventory{
		"api": {Product: "api", Entries: []inventory.Entry{{ID: a}}},
		"web": {Product: "web", Entries: []inventory.Entry{{ID: a}, {ID: b}}},
	})
	if len(got[a]) != 2 || len(got[b]) != 1 || got[b][0] != "web" {
		t.Errorf("owners = %v", got)
	}
}

func TestFindPrefersTheOwner(t *testing.T) {
	web, api := claimProduct("web", configMapIn("api", "api-config")), claimProduct("api", configMapIn("api", "api-config"))
	plan := &Plan{Products: []*ProductPlan{web, api}}
	claimObjects(plan.Products, map[object.ObjMetadata][]string{object.UnstructuredToObjMetadata(api.Objects[0]): {"api"}})
	if pp, o := plan.find(object.UnstructuredToObjMetadata(api.Objects[0])); pp != api || o != api.Objects[0] {
		t.Errorf("find = %v, want api's object", pp)
	}
	if pp, _ := (&Plan{Products: []*ProductPlan{web}}).find(object.UnstructuredToObjMetadata(api.Objects[0])); pp != web {
		t.Errorf("find = %v, want the blocked product when it alone renders the object", pp)
	}
}
