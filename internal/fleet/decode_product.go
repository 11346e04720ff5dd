package fleet

// decodeProduct decodes and validates products/<name>/product.yaml and
// compiles its CEL expressions. It returns nil when the file did not decode;
// the document holds the problems.
func decodeProduct(file, name string, data []byte, r *refs, envs *celEnvs) (*Product, *document) {
	d := parseDocument(file, data)
	if d.root == nil || !d.checkTypeMeta(KindProduct) {
		return nil, d
	}
	var p Product
	if !d.decode(&p) {
		return nil, d
	}
	d.checkMeta(p.ObjectMeta, name)
	spec := fieldPath{}.child("spec")
	if p.Spec.Targets != "" {
		p.targets = d.compileBool(envs.targets, spec.child("targets"), p.Spec.Targets)
		p.targetsLine = d.line(spec.child("targets"))
	}
	if p.Spec.Namespace != "" {
		d.checkName(spec.child("namespace"), p.Spec.Namespace)
	}
	d.checkDependencies(spec.child("dependencies"), name, p.Spec.Dependencies, r)
	if p.Spec.Signing != nil {
		d.checkSigning(spec.child("signing"), *p.Spec.Signing, r)
	}
	d.checkStrategy(spec.child("conflictStrategy"), p.Spec.ConflictStrategy)
	for i := range p.Spec.HealthChecks {
		d.compileHealthCheck(envs.health, spec.child("healthChecks").index(i), &p.Spec.HealthChecks[i])
	}
	return &p, d
}

func (d *document) checkDependencies(p fieldPath, self string, deps []Dependency, r *refs) {
	seen := make(map[string]bool, len(deps))
	for i, dep := range deps {
		dp := p.index(i)
		switch {
		case !d.checkName(dp.child("product"), dep.Product):
		case dep.Product == self:
			d.errorf(dp.child("product"), "a product cannot depend on itself")
		case !known(r.products, dep.Product):
			d.errorf(dp.child("product"), "no product %q (no products/%s/)", dep.Product, dep.Product)
		case seen[dep.Product]:
			d.errorf(dp.child("product"), "duplicate dependency on %q", dep.Product)
		}
		seen[dep.Product] = true
		if dep.MinVersion != "" {
			d.checkVersion(dp.child("minVersion"), dep.MinVersion)
		}
	}
}

func (d *document) checkSigning(p fieldPath, s Signing, r *refs) {
	if len(s.Keys) == 0 {
		d.errorf(p.child("keys"), "required: name at least one keys/<name>.pub")
	}
	for i, key := range s.Keys {
		kp := p.child("keys").index(i)
		if d.checkName(kp, key) && !known(r.keys, key) {
			d.errorf(kp, "no valid key %q (no valid keys/%s.pub)", key, key)
		}
	}
}
