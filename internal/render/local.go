package render

import (
	"fmt"
	"path"
	"strings"

	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// kustomizationNames are the file names kustomize recognises, in its order.
var kustomizationNames = [...]string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// checkLocal walks the kustomizations reachable from dir and fails on any
// reference that is not a file or directory of the repo: remote bases and URLs
// (which kustomize would fetch) and paths outside the repo. seen guards cycles;
// it ends up holding every directory and file the render reads.
func (r *Repo) checkLocal(dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	file, data, err := r.readKustomization(dir)
	if err != nil {
		return err
	}
	if se := yamlSyntaxError(repoPath(file), data); se != nil {
		return se
	}
	doc := parseKustomization(data)
	if err := doc.checkFields(repoPath(file)); err != nil {
		return err
	}
	var k kusttypes.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("%s: %w", repoPath(file), err)
	}
	if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 {
		field := "helmCharts"
		if len(k.HelmCharts) == 0 {
			field = "helmChartInflationGenerator"
		}
		return fmt.Errorf("%s:%d: %s: Helm chart inflation is not supported; commit the rendered chart instead", repoPath(file), doc.line(field), field)
	}
	if len(k.OpenAPI) > 0 {
		return fmt.Errorf("%s:%d: openapi: not supported yet: kustomize keeps the OpenAPI schema process-wide, so one release's schema would change how every other product renders", repoPath(file), doc.line("openapi"))
	}
	for _, ref := range references(&k) {
		target := ref.value
		if !path.IsAbs(target) {
			target = path.Join(dir, target)
		}
		switch {
		case strings.Contains(ref.value, "://") || strings.HasPrefix(ref.value, "git@"):
			return fmt.Errorf("%s:%d: %s: %q is remote; only paths inside the fleet repo are allowed", repoPath(file), doc.line(ref.field), ref.field, ref.value)
		case !path.IsAbs(ref.value) && r.bad[repoPath(path.Clean(target))] != nil:
			return fmt.Errorf("%s:%d: %s: %w", repoPath(file), doc.line(ref.field), ref.field, r.bad[repoPath(path.Clean(target))])
		case path.IsAbs(ref.value) || !r.fs.Exists(target):
			return fmt.Errorf("%s:%d: %s: %q is not a file or directory of the fleet repo (remote bases and paths outside the repo are not allowed)", repoPath(file), doc.line(ref.field), ref.field, ref.value)
		case r.fs.IsDir(target) && ref.dirAllowed:
			if err := r.checkLocal(target, seen); err != nil {
				return err
			}
		default:
			seen[target] = true
		}
	}
	return nil
}

// readKustomization returns the kustomization file of dir and its content.
func (r *Repo) readKustomization(dir string) (string, []byte, error) {
	for _, name := range kustomizationNames {
		p := path.Join(dir, name)
		if r.fs.Exists(p) {
			data, err := r.fs.ReadFile(p)
			return p, data, err
		}
	}
	return "", nil, fmt.Errorf("%s: no kustomization.yaml", repoPath(dir))
}

// repoPath turns an in-memory absolute path back into a repo-relative one.
func repoPath(p string) string { return strings.TrimPrefix(p, "/") }

type reference struct {
	field      string
	value      string
	dirAllowed bool
}

// references lists every path a kustomization loads.
func references(k *kusttypes.Kustomization) []reference {
	var refs []reference
	add := func(field string, dirAllowed bool, values ...string) {
		for i, v := range values {
			refs = append(refs, reference{field: fmt.Sprintf("%s[%d]", field, i), value: v, dirAllowed: dirAllowed})
		}
	}
	add("resources", true, k.Resources...)
	add("components", true, k.Components...)
	add("bases", true, k.Bases...) //nolint:staticcheck // deprecated, still loaded by kustomize
	add("crds", false, k.Crds...)
	add("configurations", false, k.Configurations...)
	add("generators", false, k.Generators...)
	add("transformers", false, k.Transformers...)
	add("validators", false, k.Validators...)
	for i, p := range k.Patches {
		if p.Path != "" {
			add(fmt.Sprintf("patches[%d].path", i), false, p.Path)
		}
	}
	for i, p := range k.PatchesStrategicMerge { //nolint:staticcheck // deprecated, still loaded by kustomize
		if !strings.Contains(string(p), "\n") {
			add(fmt.Sprintf("patchesStrategicMerge[%d]", i), false, string(p))
		}
	}
	for i, p := range k.PatchesJson6902 { //nolint:staticcheck // deprecated, still loaded by kustomize
		if p.Path != "" {
			add(fmt.Sprintf("patchesJson6902[%d].path", i), false, p.Path)
		}
	}
	for i, rep := range k.Replacements {
		if rep.Path != "" {
			add(fmt.Sprintf("replacements[%d].path", i), false, rep.Path)
		}
	}
	addGenerator := func(field string, i int, g kusttypes.GeneratorArgs) {
		files := make([]string, len(g.FileSources))
		for j, f := range g.FileSources {
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			files[j] = f
		}
		add(fmt.Sprintf("%s[%d].files", field, i), false, files...)
		add(fmt.Sprintf("%s[%d].envs", field, i), false, g.EnvSources...)
	}
	for i, g := range k.ConfigMapGenerator {
		addGenerator("configMapGenerator", i, g.GeneratorArgs)
	}
	for i, g := range k.SecretGenerator {
		addGenerator("secretGenerator", i, g.GeneratorArgs)
	}
	return refs
}
