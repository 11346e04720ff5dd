package reconcile

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/gate"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/render"
)

// History reads earlier revisions of the fleet repo.
type History interface {
	// Open returns the tree of revision.
	Open(ctx context.Context, revision string) (fs.FS, error)
	// FileHistory returns the versions of file along the first-parent
	// history of revision, newest first (see gitsource.Source.FileHistory).
	FileHistory(ctx context.Context, revision, file string, max int) ([]gitsource.FileRevision, error)
}

// Waiting is a change that change control holds back.
type Waiting struct {
	// Hold is why and until when.
	Hold gate.Hold
	// Change says what waits: a version, "new manifests of <version>" or
	// "removal".
	Change string
}

// String says what waits and why, such as "2.0.0 held back: waiting for
// maintenance window, opens 2026-12-03T02:00:00Z".
func (w *Waiting) String() string {
	return w.Change + " held back: " + w.Hold.Reason
}

// Plan plans the site at revision of the repo in fsys, and holds back the
// changes that change control does not allow now (SPEC §2.1): a held product
// is planned as it was at the revision applied last (its inventory's), so
// drift correction puts back what was applied last, and a held removal
// prunes nothing. hist reads those earlier revisions and the channel history
// the ramp needs; with a nil hist (a plain directory) a held product is left
// as it is live and nothing is ramped.
func (r *Reconciler) Plan(ctx context.Context, fsys fs.FS, revision string, hist History) (*Plan, error) {
	plan, repo, err := planSite(ctx, fsys, r.cfg.Site, revision, r.renders)
	if err != nil {
		return nil, err
	}
	applied, err := r.inventory.List(ctx)
	if err != nil {
		return nil, err
	}
	g := &gater{
		site: r.cfg.Site, revision: revision, repo: repo, hist: hist, applied: applied, renders: r.renders,
		now: r.now(), earlier: map[string]*Plan{},
	}
	if err := g.gate(ctx, plan); err != nil {
		return nil, err
	}
	r.clusterScopedNamespaces(plan)
	// An object two products render stays with the one that owns it; what
	// depends on a product blocked for it is held back.
	claimObjects(plan.Products, inventoryOwners(applied))
	holdBack(byProductName(plan.Products))
	// Renders this plan did not use (a release since changed) go.
	r.renders.Trim()
	return plan, nil
}

// byProductName indexes products by name.
func byProductName(products []*ProductPlan) map[string]*ProductPlan {
	byName := make(map[string]*ProductPlan, len(products))
	for _, pp := range products {
		byName[pp.Name] = pp
	}
	return byName
}

// now is the reconciler's clock.
func (r *Reconciler) now() time.Time {
	if r.cfg.Now != nil {
		return r.cfg.Now()
	}
	return time.Now()
}

// gater applies change control to one plan.
type gater struct {
	site, revision string
	repo           *fleet.Repo
	hist           History
	applied        map[string]*inventory.Inventory
	now            time.Time
	earlier        map[string]*Plan // plans at earlier revisions, by revision
	renders        *render.Cache
}

func (g *gater) gate(ctx context.Context, plan *Plan) error {
	planned := map[string]bool{}
	for i, pp := range plan.Products {
		planned[pp.Name] = true
		if pp.Err != nil || pp.Held != "" {
			continue
		}
		in, what, err := g.input(ctx, pp)
		if err != nil {
			return err
		}
		hold, err := gate.Decide(in)
		if err != nil {
			return err
		}
		if hold != nil {
			plan.Products[i] = g.hold(ctx, pp.Name, &Waiting{Hold: *hold, Change: what})
		}
	}
	// A product that left the site is a removal: it waits like any change.
	for name := range g.applied {
		if planned[name] {
			continue
		}
		hold, err := gate.Decide(g.base(name, gate.Removal))
		if err != nil {
			return err
		}
		if hold != nil {
			plan.Products = append(plan.Products, g.hold(ctx, name, &Waiting{Hold: *hold, Change: "removal"}))
		}
	}
	holdBack(byProductName(plan.Products))
	return nil
}

// base is the decision input of product without its change's details.
func (g *gater) base(product string, change gate.ChangeKind) gate.Input {
	site := g.repo.Sites[g.site]
	return gate.Input{
		Site: g.site, Product: product, Change: change, Now: g.now,
		Windows: site.Spec.MaintenanceWindows, SiteFrozen: site.Spec.Freeze, FleetFreeze: g.repo.Fleet.Spec.Freeze,
	}
}

// input describes the change pp makes to what was applied last.
func (g *gater) input(ctx context.Context, pp *ProductPlan) (gate.Input, string, error) {
	inv := g.applied[pp.Name]
	switch {
	case pp.NotDeployed != "":
		if inv == nil {
			return g.base(pp.Name, gate.NoChange), "", nil
		}
		return g.base(pp.Name, gate.Removal), "removal", nil
	case inv == nil:
		return g.base(pp.Name, gate.Install), pp.Version, nil
	}
	fp, err := pp.fingerprint()
	if err != nil {
		return gate.Input{}, "", err
	}
	if fp == inv.Fingerprint {
		return g.base(pp.Name, gate.NoChange), "", nil
	}
	in := g.base(pp.Name, gate.Update)
	if inv.Version == pp.Version {
		return in, "new manifests of " + pp.Version, nil
	}
	in.Recall = g.recallRollOff(pp.Name, inv.Version, pp.Version)
	if !in.Recall {
		if in.Ramp, err = g.ramp(ctx, pp); err != nil {
			return gate.Input{}, "", err
		}
	}
	return in, pp.Version, nil
}

// recallRollOff reports whether moving product from version applied to
// version next rolls the site back from a recalled release.
func (g *gater) recallRollOff(product, applied, next string) bool {
	p := g.repo.Products[product]
	rel := p.Release(applied)
	return rel != nil && rel.Spec.Recalled && versionLess(next, applied)
}

// maxChannelHistory bounds the commits walked to date a channel change.
const maxChannelHistory = 10000

// ramp returns the ramp of the version pp's channel moved to, or nil when
// there is none: no limit in fleet.yaml, or no history to date the change.
func (g *gater) ramp(ctx context.Context, pp *ProductPlan) (*gate.RampInput, error) {
	percent := g.repo.Fleet.Spec.Rollout.MaxSitesPercentPerHour
	if percent <= 0 || g.hist == nil || g.revision == "" || pp.channel == "" {
		return nil, nil
	}
	since, err := channelSince(ctx, g.hist, g.revision, pp.Name, pp.channel, pp.channelVersion)
	if err != nil {
		return nil, err
	}
	return &gate.RampInput{
		PercentPerHour: percent, Sites: g.sitesOn(pp.Name, pp.channel), Version: pp.channelVersion, Since: since,
	}, nil
}

// sitesOn lists the sites that product targets and whose effective channel
// for it is channel.
func (g *gater) sitesOn(product, channel string) []string {
	p := g.repo.Products[product]
	var out []string
	for name, s := range g.repo.Sites {
		ch := s.Spec.Channel
		if o := s.Spec.Products[product].Channel; o != "" {
			ch = o
		}
		if ch != channel {
			continue
		}
		if ok, err := p.TargetsSite(s); err == nil && ok {
			out = append(out, name)
		}
	}
	return out
}

// channelSince returns the commit time of the change of
// channels/<product>.yaml that set channel to version, as of revision.
func channelSince(ctx context.Context, hist History, revision, product, channel, version string) (time.Time, error) {
	file := path.Join("channels", product+".yaml")
	revs, err := hist.FileHistory(ctx, revision, file, maxChannelHistory)
	if err != nil {
		return time.Time{}, fmt.Errorf("dating the change of %s: %w", file, err)
	}
	var since time.Time
	for _, rev := range revs {
		c, err := fleet.ParseChannels(file, product, rev.Data)
		if err != nil || c.Spec[channel] != version {
			break
		}
		since = rev.Time
	}
	return since, nil
}

// hold returns the plan of product while its change waits: its plan at the
// revision applied last, or, when that cannot be had, a plan without objects
// that leaves it as it is live.
func (g *gater) hold(ctx context.Context, product string, w *Waiting) *ProductPlan {
	keep := &ProductPlan{Name: product, Waiting: w}
	inv := g.applied[product]
	if inv != nil {
		keep.Version = inv.Version
	}
	if inv == nil || inv.Revision == "" || g.hist == nil {
		return keep
	}
	prev, ok := g.earlier[inv.Revision]
	if !ok {
		prev = g.planAt(ctx, inv.Revision)
		g.earlier[inv.Revision] = prev
	}
	if prev == nil {
		return keep
	}
	for _, pp := range prev.Products {
		if pp.Name == product && pp.Err == nil && pp.Held == "" && pp.NotDeployed == "" && pp.Version == inv.Version {
			pp.Waiting = w
			return pp
		}
	}
	return keep
}

// planAt plans the site at an earlier revision; nil when that fails.
func (g *gater) planAt(ctx context.Context, revision string) *Plan {
	fsys, err := g.hist.Open(ctx, revision)
	if err != nil {
		return nil
	}
	if c, ok := fsys.(io.Closer); ok {
		defer func() { _ = c.Close() }()
	}
	plan, _, err := planSite(ctx, fsys, g.site, revision, g.renders)
	if err != nil {
		return nil
	}
	return plan
}
