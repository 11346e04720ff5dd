package fleet

// decodeSite decodes and validates sites/<name>/site.yaml. It returns nil
// when the file did not decode; the document holds the problems.
func decodeSite(file, name string, data []byte, r *refs) (*Site, *document) {
	d := parseDocument(file, data)
	if d.root == nil || !d.checkTypeMeta(KindSite) {
		return nil, d
	}
	var s Site
	if !d.decode(&s) {
		return nil, d
	}
	d.checkMeta(s.ObjectMeta, name)
	spec := fieldPath{}.child("spec")
	if s.Spec.Channel == "" {
		d.errorf(spec.child("channel"), "required")
	}
	d.checkChannel(spec.child("channel"), s.Spec.Channel, r)
	d.checkStrategy(spec.child("conflictStrategy"), s.Spec.ConflictStrategy)
	for i, rule := range s.Spec.ConflictRules {
		d.checkConflictRule(spec.child("conflictRules").index(i), rule)
	}
	for i, w := range s.Spec.MaintenanceWindows {
		d.checkWindow(spec.child("maintenanceWindows").index(i), w)
	}
	for product, o := range s.Spec.Products {
		d.checkOverride(spec.child("products").key(product), product, o, r)
	}
	return &s, d
}

func (d *document) checkConflictRule(p fieldPath, rule ConflictRule) {
	if rule.Strategy == "" {
		d.errorf(p.child("strategy"), "required: one of %s, %s, %s", GitWins, ServerWins, Manual)
	}
	d.checkStrategy(p.child("strategy"), rule.Strategy)
	d.checkJSONPointer(p.child("path"), rule.Path)
}

func (d *document) checkOverride(p fieldPath, product string, o ProductOverride, r *refs) {
	if d.checkName(p, product) && !known(r.products, product) {
		d.errorf(p, "no product %q (no products/%s/)", product, product)
	}
	d.checkChannel(p.child("channel"), o.Channel, r)
	if o.MaxVersion != "" {
		d.checkVersion(p.child("maxVersion"), o.MaxVersion)
	}
}
