package fleet

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Paths of the fleet repo layout (SPEC §2).
const (
	fleetFile   = "fleet.yaml"
	sitesDir    = "sites"
	productsDir = "products"
	channelsDir = "channels"
	keysDir     = "keys"
	releasesDir = "releases"
	releaseFile = "release.yaml"
)

// Load reads the fleet repo rooted at fsys. It returns a Repo and every
// problem found, joined into one error of *Error values sorted by file and
// line (nil when there are none). The Repo is returned even with problems:
//
//   - Repo.Fleet is nil when fleet.yaml has problems; nothing should then be
//     reconciled or promoted.
//   - A site with problems (in site.yaml or its component directories) is
//     not in Repo.Sites but in Repo.SiteErrors.
//   - A product with problems (in product.yaml, its releases or its channels
//     file) is not in Repo.Products but in Repo.ProductErrors; reconcilers
//     skip it, and must not prune its objects.
//
// Names starting with "." are ignored, and so are files directly under
// sites/ and products/ (such as a README), files in channels/ other than
// *.yaml (except *.yml, reported as misnamed) and files in keys/ other than
// *.pub.
func Load(fsys fs.FS) (*Repo, error) {
	envs, err := newCELEnvs()
	if err != nil {
		return nil, err
	}
	builtin, err := compileBuiltinHealthChecks(envs.health)
	if err != nil {
		return nil, err
	}
	l := &loader{
		fsys:            fsys,
		envs:            envs,
		repo:            newRepo(),
		products:        map[string]*Product{},
		productDocs:     map[string]*document{},
		productProblems: map[string]problems{},
		siteProblems:    map[string]problems{},
	}
	l.scan()
	l.loadFleet()
	l.loadKeys()
	l.loadProducts()
	l.loadChannels()
	l.loadSites()
	l.checkCycles()
	l.repo.builtinHealth = builtin
	return l.repo, l.finish()
}

// loader holds the state of one Load.
type loader struct {
	fsys fs.FS
	envs *celEnvs
	refs refs
	repo *Repo

	productDirs, siteDirs []string
	products              map[string]*Product  // decoded, with or without problems
	productDocs           map[string]*document // product.yaml of each decoded product

	general         problems // fleet.yaml, keys, stray files
	productProblems map[string]problems
	siteProblems    map[string]problems
}

// scan lists product and site directories, so that files can be checked
// for references to them before they are decoded.
func (l *loader) scan() {
	l.productDirs = l.listDirs(productsDir)
	l.siteDirs = l.listDirs(sitesDir)
	l.refs.products = setOf(l.productDirs)
	l.refs.sites = setOf(l.siteDirs)
}

// listDirs returns the names of the subdirectories of dir that are valid
// DNS-1123 labels, recording a problem for each that is not.
func (l *loader) listDirs(dir string) []string {
	var names []string
	for _, e := range l.readDir(dir, &l.general) {
		if !e.IsDir() {
			continue
		}
		if err := dnsLabel(e.Name()); err != nil {
			l.general.addf(path.Join(dir, e.Name()), "directory name: %v", err)
			continue
		}
		names = append(names, e.Name())
	}
	return names
}

// readDir lists dir without dot entries; a missing dir is empty.
func (l *loader) readDir(dir string, probs *problems) []fs.DirEntry {
	entries, err := fs.ReadDir(l.fsys, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		probs.addf(dir, "cannot read directory: %v", err)
	}
	return slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") })
}

// readFile reads a required file, recording a problem when it cannot.
func (l *loader) readFile(file string, probs *problems) ([]byte, bool) {
	data, err := fs.ReadFile(l.fsys, file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		probs.addf(file, "file not found")
		return nil, false
	case err != nil:
		probs.addf(file, "cannot read file: %v", err)
		return nil, false
	}
	return data, true
}

func (l *loader) loadFleet() {
	data, ok := l.readFile(fleetFile, &l.general)
	if !ok {
		return
	}
	f, d := decodeFleet(fleetFile, data, &l.refs, l.envs)
	l.general = append(l.general, d.errs...)
	if f == nil {
		return
	}
	l.refs.channels = make(map[string]int, len(f.Spec.Channels))
	for i, ch := range f.Spec.Channels {
		if _, dup := l.refs.channels[ch]; !dup {
			l.refs.channels[ch] = i
		}
	}
	l.refs.channelOrder = f.Spec.Channels
	if d.ok() {
		l.repo.Fleet = f
	}
}

func (l *loader) loadKeys() {
	l.refs.keys = map[string]bool{}
	for _, e := range l.readDir(keysDir, &l.general) {
		name, isKey := strings.CutSuffix(e.Name(), ".pub")
		if e.IsDir() || !isKey {
			continue
		}
		file := path.Join(keysDir, e.Name())
		if err := dnsLabel(name); err != nil {
			l.general.addf(file, "key name: %v", err)
			continue
		}
		data, ok := l.readFile(file, &l.general)
		if !ok {
			continue
		}
		if err := checkPublicKey(data); err != nil {
			l.general.addf(file, "%v", err)
			continue
		}
		l.repo.Keys[name] = data
		l.refs.keys[name] = true
	}
}

func (l *loader) loadProducts() {
	for _, name := range l.productDirs {
		probs := l.productProblems[name]
		file := path.Join(productsDir, name, "product.yaml")
		data, ok := l.readFile(file, &probs)
		if ok {
			p, d := decodeProduct(file, name, data, &l.refs, l.envs)
			l.productDocs[name] = d
			if p != nil {
				p.Releases = l.loadReleases(name, &probs)
				l.products[name] = p
			}
		}
		l.productProblems[name] = probs
	}
}

// loadReleases reads the release directories of product, oldest first.
func (l *loader) loadReleases(product string, probs *problems) []*Release {
	dir := path.Join(productsDir, product, releasesDir)
	var releases []*Release
	for _, e := range l.readDir(dir, probs) {
		if !e.IsDir() {
			continue
		}
		if rel := l.loadRelease(product, path.Join(dir, e.Name()), probs); rel != nil {
			releases = append(releases, rel)
		}
	}
	slices.SortFunc(releases, func(a, b *Release) int { return a.Version.Compare(b.Version) })
	for i := 1; i < len(releases); i++ {
		if releases[i].Version.Equal(releases[i-1].Version) {
			probs.addf(releases[i].Dir, "same version as %s", releases[i-1].Dir)
		}
	}
	return releases
}

// loadRelease reads one release directory and its optional release.yaml.
// A release whose release.yaml has problems is still returned, so that the
// problems are not repeated by every channel that names it; its product is
// not usable anyway.
func (l *loader) loadRelease(product, dir string, probs *problems) *Release {
	version, err := parseVersion(path.Base(dir))
	if err != nil {
		probs.addf(dir, "release directory name: %v", err)
		return nil
	}
	l.checkKustomization(dir, probs)
	rel := &Release{}
	file := path.Join(dir, releaseFile)
	if data, err := fs.ReadFile(l.fsys, file); err == nil {
		decoded, d := decodeRelease(file, product, version.Original(), data)
		*probs = append(*probs, d.errs...)
		if decoded != nil {
			rel = decoded
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		probs.addf(file, "cannot read file: %v", err)
		return nil
	}
	rel.Version, rel.Dir = version, dir
	return rel
}

// checkKustomization records a problem unless dir holds a kustomization.
func (l *loader) checkKustomization(dir string, probs *problems) {
	for _, name := range [...]string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := fs.Stat(l.fsys, path.Join(dir, name)); err == nil {
			return
		}
	}
	probs.addf(dir, "no kustomization.yaml: a release or component directory is a kustomize directory")
}

func (l *loader) loadChannels() {
	for _, e := range l.readDir(channelsDir, &l.general) {
		file := path.Join(channelsDir, e.Name())
		if product, ok := strings.CutSuffix(e.Name(), ".yml"); ok {
			// Blocking the product keeps its objects: a misnamed file must not
			// read as "no channels, deploy nowhere" and prune it.
			if l.refs.products[product] {
				probs := l.productProblems[product]
				probs.addf(file, "channel files are named channels/<product>.yaml")
				l.productProblems[product] = probs
			} else {
				l.general.addf(file, "channel files are named channels/<product>.yaml")
			}
		}
		product, isYAML := strings.CutSuffix(e.Name(), ".yaml")
		if e.IsDir() || !isYAML {
			continue
		}
		if !l.refs.products[product] {
			l.general.addf(file, "no product %q (no products/%s/)", product, product)
			continue
		}
		l.loadChannelFile(file, product)
	}
}

// loadChannelFile reads channels/<product>.yaml and checks that every
// version it names is a release of product.
func (l *loader) loadChannelFile(file, product string) {
	probs := l.productProblems[product]
	defer func() { l.productProblems[product] = probs }()
	data, ok := l.readFile(file, &probs)
	if !ok {
		return
	}
	c, d := decodeChannels(file, product, data, &l.refs)
	if p := l.products[product]; c != nil && p != nil {
		for ch, v := range c.Spec {
			if sv, err := parseVersion(v); err == nil && p.release(sv) == nil {
				d.errorf(fieldPath{}.child("spec").key(ch), "no release %s (no %s/)", v, path.Join(productsDir, product, releasesDir, v))
			}
		}
		p.Channels = c
	}
	probs = append(probs, d.errs...)
}

func (l *loader) loadSites() {
	for _, name := range l.siteDirs {
		probs := l.siteProblems[name]
		file := path.Join(sitesDir, name, "site.yaml")
		if data, ok := l.readFile(file, &probs); ok {
			s, d := decodeSite(file, name, data, &l.refs)
			probs = append(probs, d.errs...)
			if s != nil {
				s.Components = l.loadComponents(name, &probs)
				l.repo.Sites[name] = s
			}
		}
		l.siteProblems[name] = probs
	}
}

// loadComponents finds the site's per-product kustomize Components.
func (l *loader) loadComponents(site string, probs *problems) map[string]string {
	dir := path.Join(sitesDir, site, productsDir)
	components := map[string]string{}
	for _, e := range l.readDir(dir, probs) {
		if !e.IsDir() {
			continue
		}
		cdir := path.Join(dir, e.Name())
		if !l.refs.products[e.Name()] {
			probs.addf(cdir, "no product %q (no products/%s/)", e.Name(), e.Name())
			continue
		}
		l.checkKustomization(cdir, probs)
		components[e.Name()] = cdir
	}
	return components
}

// checkCycles reports every product that is part of a dependency cycle.
func (l *loader) checkCycles() {
	graph := dependencyGraph(l.products)
	for _, name := range sortedKeys(l.products) {
		if cycle := findCycle(graph, name); cycle != nil {
			l.productDocs[name].errorf(fieldPath{}.child("spec").child("dependencies"),
				"dependency cycle: %s", strings.Join(cycle, " -> "))
		}
	}
}

// finish files every problem under its site or product, fills the Repo
// with the sites and products that have none, and returns all problems.
func (l *loader) finish() error {
	all := slices.Clone(l.general)
	for name, d := range l.productDocs {
		l.productProblems[name] = append(l.productProblems[name], d.errs...)
	}
	for name, probs := range l.productProblems {
		all = append(all, probs...)
		if len(probs) > 0 {
			l.repo.ProductErrors[name] = probs.join()
		} else if p := l.products[name]; p != nil {
			l.repo.Products[name] = p
		}
	}
	for name, probs := range l.siteProblems {
		all = append(all, probs...)
		if len(probs) > 0 {
			l.repo.SiteErrors[name] = probs.join()
			delete(l.repo.Sites, name)
		}
	}
	return all.join()
}

func setOf(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}
