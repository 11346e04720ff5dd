// Package reconcile runs syncd's data flow for one site: load the fleet repo,
// resolve and render the products that target the site, then diff or apply
// them in dependency order, prune what left the render, and report health.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"github.com/fluxcd/cli-utils/pkg/object"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/policy"
	"github.com/syncd-dev/syncd/internal/prune"
	"github.com/syncd-dev/syncd/internal/render"
)

// Plan is what the fleet repo asks of one site at one revision.
type Plan struct {
	// Site is the site planned for.
	Site string
	// Revision is the fleet repo commit, when known.
	Revision string
	// Products are the products that target the site, in dependency order
	// (products that failed to load come last, by name).
	Products []*ProductPlan
	// ReportRefresh is the fleet's status report refresh interval
	// (spec.reports.refresh; 0 for the default).
	ReportRefresh time.Duration
	// Policy is the outcome of the fleet's policy gates at the site.
	Policy *policy.Result
	// AllowMassPrune is set when the head commit carries the trailer
	// `Syncd-Allow-Mass-Prune: true` (prune.AllowsMassPrune): the sync may
	// delete any share of the site's objects.
	AllowMassPrune bool
}

// ProductPlan is one product's part of a Plan.
type ProductPlan struct {
	// Name and Version identify the product release; Version is empty when
	// the product is not deployed or failed before resolving.
	Name, Version string
	// VersionNote, when set, says why Version is not the version the site's
	// channel names (recalled, or above the site's maxVersion).
	VersionNote string
	// Objects are the rendered objects.
	Objects []*unstructured.Unstructured
	// Sources say where in the fleet repo the objects are written, so that
	// an error about one (an apply refused, a policy violated, an object
	// another product renders too) names its file and line.
	Sources render.Sources
	// NotDeployed, when set, says why the product has no version here.
	NotDeployed string
	// Held, when set, says why the product is held back (a dependency).
	Held string
	// Err is why the product could not be loaded, resolved or rendered. Such
	// a product is neither applied nor pruned.
	Err error
	// ForceRecreate is the product's opt-in to recreate on immutable changes.
	ForceRecreate bool
	// Dependencies are the products this one needs first.
	Dependencies []fleet.Dependency
	// Conflicts chooses the strategy for fields another manager holds.
	Conflicts conflict.Rules
	// SigningKeys are the PEM public keys, by name, of the product's signing
	// policy: every image must be signed by one of them. Nil without a policy.
	SigningKeys map[string][]byte
	// HealthChecks replace kstatus for the kinds they match: the product's
	// own, then syncd's built-in rules (fleet.Repo.HealthChecks).
	HealthChecks []fleet.HealthCheck
	// Waiting, when set, is the change held back by change control (SPEC
	// §2.1): the plan is then what was applied last (drift correction puts
	// it back), or has no objects when that cannot be rendered, and the
	// product is left as it is live.
	Waiting *Waiting

	// channel and channelVersion are where Version comes from.
	channel, channelVersion string
}

// CommitMessager is a fleet repo snapshot that knows its commit's message,
// as gitsource.Snapshot does.
type CommitMessager interface {
	Message() string
}

// Blocked reports whether the product must be left as it is live.
func (p *ProductPlan) Blocked() bool {
	return p.Err != nil || p.Held != "" || (p.Waiting != nil && p.Objects == nil)
}

// PlanSite loads the fleet repo in fsys and renders every product that
// targets site. Errors of fleet.yaml or the site's own file are fatal (nothing
// may be applied or pruned); a product's errors block only that product.
func PlanSite(ctx context.Context, fsys fs.FS, site, revision string) (*Plan, error) {
	plan, _, err := planSite(ctx, fsys, site, revision, nil)
	return plan, err
}

// planSite is PlanSite, also returning the loaded fleet repo; renders go
// through cache when it is not nil.
func planSite(ctx context.Context, fsys fs.FS, site, revision string, cache *render.Cache) (*Plan, *fleet.Repo, error) {
	repo, loadErr := fleet.Load(fsys)
	if repo == nil || repo.Fleet == nil {
		return nil, nil, fmt.Errorf("loading fleet repo: %w", loadErr)
	}
	plan, err := PlanRepo(ctx, repo, &fsRenderer{fsys: fsys, cache: cache}, site, revision)
	if m, ok := fsys.(CommitMessager); ok && plan != nil {
		plan.AllowMassPrune = prune.AllowsMassPrune(m.Message())
	}
	return plan, repo, err
}

// Renderer renders product releases. Its error is for failures that concern
// the whole snapshot (nothing may then be applied); a failing release fails
// only its Result.
type Renderer interface {
	RenderAll(ctx context.Context, reqs []render.Request) ([]render.Result, error)
}

// fsRenderer renders from a snapshot, copied into memory on first use,
// through cache when it is not nil.
type fsRenderer struct {
	fsys  fs.FS
	cache *render.Cache
}

func (r *fsRenderer) RenderAll(ctx context.Context, reqs []render.Request) ([]render.Result, error) {
	rrepo, err := render.LoadRepo(r.fsys)
	if err != nil {
		// An escaping symlink anywhere makes the snapshot untrustworthy.
		return nil, err
	}
	if r.cache != nil {
		return r.cache.RenderAll(ctx, rrepo, reqs), nil
	}
	return rrepo.RenderAll(ctx, reqs), nil
}

// PlanRepo is PlanSite for a fleet repo already loaded (with a usable
// fleet.yaml), rendering with r.
func PlanRepo(ctx context.Context, repo *fleet.Repo, r Renderer, site, revision string) (*Plan, error) {
	if err := repo.SiteErrors[site]; err != nil {
		return nil, fmt.Errorf("site %s: %w", site, err)
	}
	if _, ok := repo.Sites[site]; !ok {
		return nil, fmt.Errorf("site %s: no sites/%s/site.yaml in the fleet repo", site, site)
	}
	targeted, err := repo.ProductsFor(site)
	undecided, err := undecidedProducts(err)
	if err != nil {
		return nil, fmt.Errorf("selecting the products of site %s: %w", site, err)
	}
	plan := &Plan{Site: site, Revision: revision, ReportRefresh: repo.Fleet.Spec.Reports.Refresh.Duration}
	byName := map[string]*ProductPlan{}
	// A product whose targets expression fails for this site is neither
	// targeted nor untargeted: it is blocked, so nothing of it is pruned.
	for name, perr := range undecided {
		byName[name] = &ProductPlan{Name: name, Err: perr}
	}
	var names []string
	for _, p := range targeted {
		pp := &ProductPlan{
			Name: p.Name, ForceRecreate: p.Spec.ForceRecreate, Dependencies: p.Spec.Dependencies,
			HealthChecks: repo.HealthChecks(p),
			Conflicts:    conflict.Rules{Site: repo.Sites[site].Spec.ConflictRules, Default: repo.ConflictStrategy(site, p.Name)},
		}
		if p.Spec.Signing != nil {
			pp.SigningKeys = signingKeys(repo, p.Spec.Signing.Keys)
		}
		byName[p.Name] = pp
		names = append(names, p.Name)
	}
	// A product whose own files are broken might still target the site; it
	// is planned as failed so nothing of it is pruned.
	for name, perr := range repo.ProductErrors {
		if pp, ok := byName[name]; ok {
			pp.Err = perr
			continue
		}
		byName[name] = &ProductPlan{Name: name, Err: perr}
	}
	if err := renderProducts(ctx, r, repo, site, byName); err != nil {
		return nil, err
	}
	plan.Policy = checkPolicies(repo.Fleet.Spec.Policies, repo.Sites[site], byName)
	holdBack(byName)
	order, err := repo.DependencyOrder(names)
	if err != nil {
		return nil, fmt.Errorf("ordering the products of site %s: %w", site, err)
	}
	for _, name := range order {
		plan.Products = append(plan.Products, byName[name])
		delete(byName, name)
	}
	rest := make([]string, 0, len(byName))
	for name := range byName {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	for _, name := range rest {
		plan.Products = append(plan.Products, byName[name])
	}
	return plan, nil
}

// renderProducts resolves each planned product's version and renders it.
func renderProducts(ctx context.Context, r Renderer, repo *fleet.Repo, site string, byName map[string]*ProductPlan) error {
	var reqs []render.Request
	for name, pp := range byName {
		if pp.Err != nil {
			continue
		}
		res, err := repo.Resolve(site, name)
		switch {
		case err != nil:
			pp.Err = err
			continue
		case res.NotDeployed:
			pp.NotDeployed = res.Reason
			continue
		}
		pp.Version, pp.VersionNote = res.Version.Original(), res.Substituted
		pp.channel, pp.channelVersion = res.Channel, res.ChannelVersion
		p := repo.Products[name]
		reqs = append(reqs, render.Request{
			Site: site, Product: name, Version: pp.Version,
			ReleaseDir:   res.Release.Dir,
			ComponentDir: repo.Sites[site].Components[name],
			Namespace:    p.Spec.Namespace,
		})
	}
	if len(reqs) == 0 {
		return nil
	}
	results, err := r.RenderAll(ctx, reqs)
	if err != nil {
		return err
	}
	for _, res := range results {
		pp := byName[res.Request.Product]
		pp.Objects, pp.Sources, pp.Err = res.Objects, res.Sources, res.Err
	}
	return ctx.Err()
}

// holdBack marks products whose dependencies are missing, too old, failed or
// held back themselves, until nothing changes.
func holdBack(byName map[string]*ProductPlan) {
	for changed := true; changed; {
		changed = false
		for _, pp := range byName {
			if pp.Err != nil || pp.Version == "" || pp.Held != "" {
				continue
			}
			for _, dep := range pp.Dependencies {
				if reason := unmet(dep, byName[dep.Product]); reason != "" {
					pp.Held, changed = reason, true
					break
				}
			}
		}
	}
}

func unmet(dep fleet.Dependency, d *ProductPlan) string {
	switch {
	case d == nil:
		return fmt.Sprintf("dependency %s does not target this site", dep.Product)
	case d.Err != nil:
		return fmt.Sprintf("dependency %s failed: %v", dep.Product, firstLine(d.Err))
	case d.Waiting != nil && d.Objects == nil:
		return fmt.Sprintf("dependency %s waits: %s", dep.Product, d.Waiting.Hold.Reason)
	case d.Version == "":
		return fmt.Sprintf("dependency %s is not deployed here: %s", dep.Product, d.NotDeployed)
	case d.Held != "":
		return fmt.Sprintf("dependency %s is held back", dep.Product)
	}
	if dep.MinVersion != "" && versionLess(d.Version, dep.MinVersion) {
		return fmt.Sprintf("dependency %s is at %s here, needs at least %s", dep.Product, d.Version, dep.MinVersion)
	}
	return ""
}

func firstLine(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		if errs := joined.Unwrap(); len(errs) > 0 {
			return errs[0].Error()
		}
	}
	return err.Error()
}

// versionLess reports whether semantic version a is lower than b; versions
// that do not parse (the loader has rejected them already) compare as equal.
func versionLess(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	return errA == nil && errB == nil && va.LessThan(vb)
}

// desired is the set of every object any planned product renders, blocked
// ones included: none of them may be pruned by another product.
func (p *Plan) desired() inventory.IDs {
	ids := inventory.IDs{}
	for _, pp := range p.Products {
		for _, o := range pp.Objects {
			ids[object.UnstructuredToObjMetadata(o)] = true
		}
	}
	return ids
}

// fingerprint identifies what applying the product means: its render and
// everything else that changes how it is applied (conflict rules, the
// forceRecreate opt-in), so a change to any of them is acted on.
func (pp *ProductPlan) fingerprint() (string, error) {
	extra := &unstructured.Unstructured{Object: map[string]any{
		"conflictDefault": string(pp.Conflicts.Default),
		"conflictRules":   fmt.Sprintf("%+v", pp.Conflicts.Site),
		"forceRecreate":   pp.ForceRecreate,
	}}
	return inventory.Fingerprint(append(append([]*unstructured.Unstructured{}, pp.Objects...), extra))
}

// undecidedProducts sorts the errors of fleet.Repo.ProductsFor by product:
// each names a product whose targets could not be evaluated for the site.
// An error that names no product is returned as is.
func undecidedProducts(err error) (map[string]error, error) {
	if err == nil {
		return nil, nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	out := map[string]error{}
	for _, e := range errs {
		var fe *fleet.Error
		if !errors.As(e, &fe) {
			return nil, err
		}
		dir, file := path.Split(fe.File)
		product := path.Base(path.Clean(dir))
		if file != "product.yaml" || path.Dir(path.Clean(dir)) != "products" {
			return nil, err
		}
		out[product] = errors.Join(out[product], e)
	}
	return out, nil
}

// signingKeys returns the named keys of the fleet repo; Load has checked
// that each exists.
func signingKeys(repo *fleet.Repo, names []string) map[string][]byte {
	keys := make(map[string][]byte, len(names))
	for _, n := range names {
		keys[n] = repo.Keys[n]
	}
	return keys
}
