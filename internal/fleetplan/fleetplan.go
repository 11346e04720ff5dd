// Package fleetplan plans every site of one revision of a fleet repo,
// offline: which products target each site, at which version, and what they
// render to. It is what `syncd validate` checks and what `syncd fleet diff`
// compares. Renders go through a render.Cache, so a release rendered for
// many sites, or at two revisions, runs kustomize once.
package fleetplan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/policy"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/render"
)

// Revision is a fleet repo revision planned at every site.
type Revision struct {
	// Repo is the loaded fleet repo; Repo.Fleet is nil when fleet.yaml has
	// problems, and then no site is planned.
	Repo *fleet.Repo
	// Sites are the plans of the sites that could be planned, by name.
	Sites map[string]*reconcile.Plan
	// Problems are every problem found, sorted by file and line: in the
	// files, in targeting, in resolving versions, in rendering.
	Problems []*fleet.Error
}

// SiteNames returns the names of the planned sites, sorted.
func (r *Revision) SiteNames() []string {
	names := make([]string, 0, len(r.Sites))
	for name := range r.Sites {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Options tune Plan.
type Options struct {
	// Revision names the commit in the plans; may be empty.
	Revision string
	// Cache is where renders are kept; several Plans may share one. A new
	// one when nil.
	Cache *render.Cache
	// AllReleases also renders, for every site a product targets, the
	// releases that the site does not run, so that a broken release is
	// found before a channel points to it (what `syncd validate` wants).
	AllReleases bool
}

// Plan loads the fleet repo in fsys and plans each of its sites. The error
// is for a cancelled ctx only: everything wrong with the repo is in
// Revision.Problems.
func Plan(ctx context.Context, fsys fs.FS, opts Options) (*Revision, error) {
	cache, revision := opts.Cache, opts.Revision
	if cache == nil {
		cache = render.NewCache()
	}
	repo, loadErr := fleet.Load(fsys)
	if repo == nil {
		return nil, fmt.Errorf("loading fleet repo: %w", loadErr)
	}
	rev := &Revision{Repo: repo, Sites: map[string]*reconcile.Plan{}}
	probs := &collector{}
	probs.addErr("", loadErr)
	if repo.Fleet == nil {
		rev.Problems = probs.sorted()
		return rev, nil
	}
	rrepo, err := render.LoadRepo(fsys)
	if err != nil {
		probs.add("", &fleet.Error{Msg: err.Error()})
		rev.Problems = probs.sorted()
		return rev, nil
	}
	renderer := &cachedRenderer{cache: cache, repo: rrepo}
	src := &sources{fsys: fsys}
	for _, site := range sortedSites(repo) {
		plan, err := reconcile.PlanRepo(ctx, repo, renderer, site, revision)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err != nil {
			probs.add(site, &fleet.Error{File: path.Join("sites", site, "site.yaml"), Msg: err.Error()})
			continue
		}
		rev.Sites[site] = plan
		// No cluster here: an object two products render is no product's.
		reconcile.ClaimObjects(plan.Products, nil)
		for _, pp := range plan.Products {
			var blocked *policy.BlockedError
			switch req := renderer.dirs[renderKey{site, pp.Name}]; {
			case errors.As(pp.Err, &blocked):
				for _, v := range blocked.Violations {
					probs.add(site, violationProblem(v, req, repo.Fleet.Spec.Policies, src))
				}
			case pp.Err != nil:
				probs.addProductErr(site, pp, req)
			}
		}
	}
	if opts.AllReleases {
		renderOtherReleases(ctx, rev, renderer, probs, src)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rev.Problems = probs.sorted()
	return rev, nil
}

// renderOtherReleases renders the releases that no site runs at this
// revision, for every site their product targets, and checks them against
// the site's block-severity policies (but a recalled release), so that a
// broken or blocked release is found before a channel points to it.
func renderOtherReleases(ctx context.Context, rev *Revision, r *cachedRenderer, probs *collector, src *sources) {
	for _, name := range sortedKeys(rev.Repo.Products) {
		p := rev.Repo.Products[name]
		var reqs []render.Request
		for _, site := range rev.SiteNames() {
			pp := productPlan(rev.Sites[site], name)
			if pp == nil || pp.Version == "" {
				continue
			}
			for _, rel := range p.Releases {
				if rel.Version.Original() == pp.Version {
					continue
				}
				reqs = append(reqs, render.Request{
					Site: site, Product: name, Version: rel.Version.Original(), ReleaseDir: rel.Dir,
					ComponentDir: rev.Repo.Sites[site].Components[name], Namespace: p.Spec.Namespace,
				})
			}
		}
		for _, res := range r.cache.RenderAll(ctx, r.repo, reqs) {
			// A recalled release never runs again: its policies do not matter.
			if rel := p.Release(res.Request.Version); res.Err == nil && (rel == nil || !rel.Spec.Recalled) {
				for _, v := range blockingViolations(rev.Repo, res.Request.Site, name, res) {
					probs.add(res.Request.Site, violationProblem(v, res.Request, rev.Repo.Fleet.Spec.Policies, src))
				}
			}
			if res.Err != nil {
				e := renderError(res.Err, res.Request)
				// A problem outside the release (in the site's Component) is
				// named with the release, unless the planned one has it too.
				if _, seen := probs.entries[*e]; !seen && !strings.HasPrefix(e.File, res.Request.ReleaseDir) {
					e.Msg = fmt.Sprintf("%s (rendering release %s)", e.Msg, res.Request.Version)
				}
				probs.add(res.Request.Site, e)
			}
		}
	}
}

// productPlan returns the plan of product in plan, or nil.
func productPlan(plan *reconcile.Plan, product string) *reconcile.ProductPlan {
	for _, pp := range plan.Products {
		if pp.Name == product {
			return pp
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func sortedSites(repo *fleet.Repo) []string {
	names := make([]string, 0, len(repo.Sites))
	for name := range repo.Sites {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// cachedRenderer renders one revision's releases through a shared Cache and
// remembers which directories each site's product was rendered from, to
// name them in problems.
type cachedRenderer struct {
	cache *render.Cache
	repo  *render.Repo
	dirs  map[renderKey]render.Request
}

type renderKey struct{ site, product string }

func (r *cachedRenderer) RenderAll(ctx context.Context, reqs []render.Request) ([]render.Result, error) {
	if r.dirs == nil {
		r.dirs = map[renderKey]render.Request{}
	}
	for _, req := range reqs {
		r.dirs[renderKey{req.Site, req.Product}] = req
	}
	return r.cache.RenderAll(ctx, r.repo, reqs), nil
}

// collector gathers problems and the sites each one was found at, so that a
// problem found at 200 sites is reported once.
type collector struct {
	order   []fleet.Error
	entries map[fleet.Error]*siteSet
}

type siteSet struct {
	global bool // found regardless of any site (by the loader)
	sites  []string
}

// add records e found at site ("" when not about one site).
func (c *collector) add(site string, e *fleet.Error) {
	if c.entries == nil {
		c.entries = map[fleet.Error]*siteSet{}
	}
	set, ok := c.entries[*e]
	if !ok {
		set = &siteSet{}
		c.entries[*e] = set
		c.order = append(c.order, *e)
	}
	switch {
	case site == "":
		set.global = true
	case !slices.Contains(set.sites, site):
		set.sites = append(set.sites, site)
	}
}

// addErr records every *fleet.Error in err (a joined error), and err itself
// when it holds none.
func (c *collector) addErr(site string, err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var fe *fleet.Error
		if errors.As(e, &fe) {
			c.add(site, fe)
		} else {
			c.add(site, &fleet.Error{Msg: e.Error()})
		}
	}
}

// addProductErr records why a product could not be planned at site: its
// files' problems (already reported by the loader, deduplicated here), its
// targets expression, its version, or its render from req's directories.
func (c *collector) addProductErr(site string, pp *reconcile.ProductPlan, req render.Request) {
	var fe *fleet.Error
	var rfe *render.FieldError
	switch {
	case errors.As(pp.Err, &fe):
		c.addErr(site, pp.Err)
	case errors.As(pp.Err, &rfe):
		for _, err := range joinedErrors(pp.Err) {
			if errors.As(err, &rfe) {
				c.add(site, &fleet.Error{File: rfe.File, Line: rfe.Line, Field: rfe.Field, Msg: rfe.Err.Error()})
			} else {
				c.add(site, renderError(err, req))
			}
		}
	case pp.Version == "":
		c.add(site, &fleet.Error{File: path.Join("channels", pp.Name+".yaml"), Msg: pp.Err.Error()})
	default:
		c.add(site, renderError(pp.Err, req))
	}
}

// joinedErrors returns the errors joined in err, or err alone.
func joinedErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// renderError turns a render failure into a problem naming the file the
// render package names at the start of its message, else the release (or
// site Component) directory.
func renderError(err error, req render.Request) *fleet.Error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "kustomize build "+req.ReleaseDir+": "); ok {
		dir := req.ReleaseDir
		if req.ComponentDir != "" {
			dir = req.ReleaseDir + " + " + req.ComponentDir
		}
		return &fleet.Error{File: dir, Msg: "kustomize build: " + rest}
	}
	if file, rest, ok := strings.Cut(msg, ": "); ok && (strings.HasPrefix(file, "products/") || strings.HasPrefix(file, "sites/")) && !strings.Contains(file, " ") {
		return &fleet.Error{File: file, Msg: rest}
	}
	return &fleet.Error{File: req.ReleaseDir, Msg: msg}
}

// maxSitesNamed bounds the sites named in one problem.
const maxSitesNamed = 5

// sorted returns the problems by file, line and field, each naming the
// sites it was found at.
func (c *collector) sorted() []*fleet.Error {
	out := make([]*fleet.Error, 0, len(c.order))
	for _, e := range c.order {
		if set := c.entries[e]; !set.global && len(set.sites) > 0 {
			slices.Sort(set.sites)
			e.Msg += " (" + siteList(set.sites) + ")"
		}
		out = append(out, &e)
	}
	slices.SortStableFunc(out, func(a, b *fleet.Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Field, b.Field), cmp.Compare(a.Msg, b.Msg))
	})
	return out
}

func siteList(sites []string) string {
	word := "site "
	if len(sites) > 1 {
		word = "sites "
	}
	if len(sites) <= maxSitesNamed {
		return word + strings.Join(sites, ", ")
	}
	return fmt.Sprintf("%s%s and %d more", word, strings.Join(sites[:maxSitesNamed], ", "), len(sites)-maxSitesNamed)
}
