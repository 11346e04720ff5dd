package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/inventory"
)

// ClaimError blocks a product that renders an object (the same group, kind,
// namespace and name) another product renders too: two products would take
// turns applying it, and one could prune what the other applies.
type ClaimError struct {
	// Object is the object, as Kind/namespace/name (Kind/name when
	// cluster-scoped).
	Object string
	// Product is the product blocked.
	Product string
	// Owner is the product that keeps the object (the one whose inventory
	// holds it); empty when none does and every product that renders it is
	// blocked.
	Owner string
	// Others are the other products that render the object, each with where
	// it renders it ("api (products/api/releases/1.0.0/configmap.yaml:4)").
	Others []string
}

// Error says which products render the object and what happens to them.
func (e *ClaimError) Error() string {
	others := strings.Join(e.Others, ", ")
	if e.Owner != "" {
		return fmt.Sprintf("%s is also rendered by product %s, which owns it at this site: product %s is not applied until it stops rendering it",
			e.Object, others, e.Product)
	}
	return fmt.Sprintf("%s is also rendered by product %s and no product owns it at this site yet: all of them are held until only one renders it",
		e.Object, others)
}

// maxClaimErrors bounds the objects named in a product's error; the rest
// are counted.
const maxClaimErrors = 5

// claimant is one product rendering one object.
type claimant struct {
	pp  *ProductPlan
	obj *unstructured.Unstructured
}

// ClaimObjects blocks the products that render an object another product
// renders too, as planning does for a site; with nil owners (a fleet repo
// checked without its clusters) every product that renders such an object
// is blocked.
func ClaimObjects(products []*ProductPlan, owners map[object.ObjMetadata][]string) {
	claimObjects(products, owners)
}

// claimObjects blocks the products that render an object another product
// renders too. Of each such object, the one product whose inventory holds it
// (owners: the products each object's inventories list) keeps it and every
// other product rendering it is blocked; when no product or several of
// those rendering it hold it, all of them are blocked. A blocked product is
// neither applied nor pruned, so nothing is deleted. Each error is placed at
// the object's metadata.name in the blocked product's files.
func claimObjects(products []*ProductPlan, owners map[object.ObjMetadata][]string) {
	by := map[object.ObjMetadata][]claimant{}
	var ids []object.ObjMetadata
	for _, pp := range products {
		for _, o := range pp.Objects {
			id := object.UnstructuredToObjMetadata(o)
			if len(by[id]) == 0 {
				ids = append(ids, id)
			}
			if !slices.ContainsFunc(by[id], func(c claimant) bool { return c.pp == pp }) {
				by[id] = append(by[id], claimant{pp, o})
			}
		}
	}
	errs := map[*ProductPlan][]error{}
	for _, id := range ids {
		cs := by[id]
		if len(cs) < 2 {
			continue
		}
		var holders []string
		for _, c := range cs {
			if slices.Contains(owners[id], c.pp.Name) {
				holders = append(holders, c.pp.Name)
			}
		}
		owner := ""
		if len(holders) == 1 {
			owner = holders[0]
		}
		for _, c := range cs {
			if c.pp.Name == owner {
				continue
			}
			ce := &ClaimError{Object: diff.Describe(c.obj), Product: c.pp.Name, Owner: owner}
			for _, other := range cs {
				if other.pp != c.pp {
					ce.Others = append(ce.Others, other.pp.Name+where(other))
				}
			}
			errs[c.pp] = append(errs[c.pp], placeAt(c, ce))
		}
	}
	for _, pp := range products {
		list := errs[pp]
		if len(list) == 0 {
			continue
		}
		if n := len(list); n > maxClaimErrors {
			list = append(list[:maxClaimErrors:maxClaimErrors], fmt.Errorf("and %d more object(s) other products render too", n-maxClaimErrors))
		}
		pp.Err = errors.Join(append([]error{pp.Err}, list...)...)
	}
}

// where returns " (FILE:LINE)" of c's object, or "" when not known.
func where(c claimant) string {
	src, ok := c.pp.Sources.Of(c.obj)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", src.File, src.FieldLine("metadata.name"))
}

// placeAt places err at c's object's metadata.name, when its source is known.
func placeAt(c claimant, err error) error {
	src, ok := c.pp.Sources.Of(c.obj)
	if !ok {
		return err
	}
	return src.At("metadata.name", err)
}

// inventoryOwners returns, for each object of the inventories, the products
// whose inventory lists it.
func inventoryOwners(invs map[string]*inventory.Inventory) map[object.ObjMetadata][]string {
	out := map[object.ObjMetadata][]string{}
	for name, inv := range invs {
		for _, e := range inv.Entries {
			out[e.ID] = append(out[e.ID], name)
		}
	}
	return out
}
