package fleet

import (
	"fmt"
	"path"
)

// TargetsSite reports whether the product's targets expression selects
// site. The expression sees `site` with fields `name` (string) and `labels`
// (map(string, string)); an empty expression selects no site.
//
// Reading a label the site does not have (site.labels.tier) is an error, as
// in Kubernetes CEL, so that a misspelt label is reported rather than
// silently selecting nothing, or everything. CEL's logical operators absorb
// such errors when the other side decides (false && error is false); guard
// optional labels with has(site.labels.tier) or read them with
// site.labels.?tier.orValue("").
func (p *Product) TargetsSite(site *Site) (bool, error) {
	ok, err := p.targetsSite(site)
	if err != nil {
		return false, err
	}
	return ok, nil
}

func (p *Product) targetsSite(site *Site) (bool, *Error) {
	if p.Spec.Targets == "" {
		return false, nil
	}
	if p.targets == nil {
		return false, p.targetsError(site, "expression is not compiled; load the product with fleet.Load")
	}
	ok, err := evalBool(p.targets, map[string]any{"site": celSite(site)})
	if err != nil {
		return false, p.targetsError(site, err.Error())
	}
	return ok, nil
}

func (p *Product) targetsError(site *Site, msg string) *Error {
	return &Error{
		File:  path.Join(productsDir, p.Name, "product.yaml"),
		Line:  p.targetsLine,
		Field: "spec.targets",
		Msg:   fmt.Sprintf("site %s: %s", site.Name, msg),
	}
}

// ProductsFor returns the products whose targets select the site, sorted by
// name. Products with problems (Repo.ProductErrors) are not considered. When
// a product's expression fails for the site, ProductsFor still returns the
// products that it could decide, together with an error naming each failure;
// the failed products must be treated as neither targeted nor untargeted
// (not applied, not pruned).
func (r *Repo) ProductsFor(siteName string) ([]*Product, error) {
	site, ok := r.Sites[siteName]
	if !ok {
		if err := r.SiteErrors[siteName]; err != nil {
			return nil, fmt.Errorf("site %q has problems: %w", siteName, err)
		}
		return nil, fmt.Errorf("no site %q in the fleet repo (no sites/%s/site.yaml)", siteName, siteName)
	}
	var (
		out  []*Product
		errs problems
	)
	for _, name := range sortedKeys(r.Products) {
		p := r.Products[name]
		ok, err := p.targetsSite(site)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			out = append(out, p)
		}
	}
	return out, errs.join()
}
