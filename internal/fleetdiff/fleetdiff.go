// Package fleetdiff compares two revisions of a fleet repo, each planned at
// every site (package fleetplan), and tells what the change does at each
// site: products newly targeted or dropped, version changes, and the objects
// that would be created, changed or deleted, with field diffs in which
// Secret values are masked. It is pure: it reads plans and writes a Report.
package fleetdiff

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/redact"
)

// Report is what changes between two revisions, site by site.
type Report struct {
	// Base and Head name the revisions compared.
	Base string `json:"base"`
	Head string `json:"head"`
	// Sites are the sites where something changes, by name.
	Sites []SiteChange `json:"sites"`
	// Untouched counts the sites where nothing changes.
	Untouched int `json:"untouchedSites"`
	// Problems are the problems of the head revision: a change that
	// introduces any is an error.
	Problems []string `json:"problems,omitempty"`
	// BaseProblems are the problems the base revision already had.
	BaseProblems []string `json:"baseProblems,omitempty"`
}

// Changed reports whether anything changes at any site.
func (r *Report) Changed() bool { return len(r.Sites) > 0 }

// Site change kinds.
const (
	SiteAdded   = "added"
	SiteRemoved = "removed"
	SiteChanged = "changed"
	SiteBroken  = "broken"
)

// SiteChange is what changes at one site.
type SiteChange struct {
	Site string `json:"site"`
	// Change is SiteAdded, SiteRemoved, SiteChanged or SiteBroken.
	Change string `json:"change"`
	// Settings are changes of the site's own file: labels, channel, other
	// fields of its spec.
	Settings []string `json:"settings,omitempty"`
	// Products are the products whose deployment changes, by name.
	Products []ProductChange `json:"products,omitempty"`
}

// Product change kinds.
const (
	Targeted    = "targeted"     // newly targets the site
	Dropped     = "dropped"      // no longer targets it: its objects are pruned
	Upgraded    = "upgraded"     // a newer version
	Downgraded  = "downgraded"   // an older version (a recall, a pin)
	Manifests   = "manifests"    // same version, different objects
	Settings    = "settings"     // same objects, different conflict or recreate settings
	Deployed    = "deployed"     // the channel now has a version for the site
	Undeployed  = "not deployed" // the channel no longer has one: objects are pruned
	Held        = "held"         // held back by a dependency: nothing of it changes
	Failing     = "failing"      // cannot be planned at head: nothing of it changes
	Fixed       = "fixed"        // could not be planned at base, can at head
	Unblocked   = "released"     // was held back, no longer is
	changeOther = "changed"
)

// ProductChange is how one product changes at a site.
type ProductChange struct {
	Product string `json:"product"`
	// Change is one of the product change kinds (Upgraded, Targeted...).
	Change string `json:"change"`
	// From and To are the versions at base and head, empty when none.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Reason says why, when the change is not just a new version: why a
	// product is held, not deployed, or failing.
	Reason string `json:"reason,omitempty"`
	// Settings are the changed conflict and recreate settings.
	Settings []string `json:"settings,omitempty"`
	// Objects are the objects created, changed or deleted, by name.
	Objects []ObjectChange `json:"objects,omitempty"`
}

// Counts returns how many objects are created, changed and deleted.
func (p *ProductChange) Counts() (created, changed, deleted int) {
	for _, o := range p.Objects {
		switch o.Action {
		case ObjectCreated:
			created++
		case ObjectChanged:
			changed++
		case ObjectDeleted:
			deleted++
		}
	}
	return created, changed, deleted
}

// Object actions.
const (
	ObjectCreated = "created"
	ObjectChanged = "changed"
	ObjectDeleted = "deleted"
)

// ObjectChange is one object that a sync would create, change or delete.
type ObjectChange struct {
	// Object is "Kind/namespace/name" or "Kind/name".
	Object string `json:"object"`
	Action string `json:"action"`
	// Diff is a unified diff from base to head, for changed objects when
	// Options.Diffs is set. Secret values are masked.
	Diff string `json:"diff,omitempty"`
}

// Options tune Compare.
type Options struct {
	// Diffs adds a unified field diff to each changed object.
	Diffs bool
	// BaseName and HeadName label the revisions in the report and diffs.
	BaseName, HeadName string
}

// Compare tells what changes at each site from base to head.
func Compare(base, head *fleetplan.Revision, opts Options) (*Report, error) {
	r := &Report{Base: opts.BaseName, Head: opts.HeadName, Sites: []SiteChange{}}
	for _, p := range head.Problems {
		r.Problems = append(r.Problems, p.Error())
	}
	for _, p := range base.Problems {
		r.BaseProblems = append(r.BaseProblems, p.Error())
	}
	names := map[string]bool{}
	for _, rev := range []*fleetplan.Revision{base, head} {
		for name := range rev.Sites {
			names[name] = true
		}
		if rev.Repo != nil {
			for name := range rev.Repo.SiteErrors {
				names[name] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		sc, err := compareSite(name, base, head, opts)
		if err != nil {
			return nil, err
		}
		if sc == nil {
			r.Untouched++
			continue
		}
		r.Sites = append(r.Sites, *sc)
	}
	return r, nil
}

// compareSite returns what changes at site, or nil when nothing does.
func compareSite(name string, base, head *fleetplan.Revision, opts Options) (*SiteChange, error) {
	bp, hp := base.Sites[name], head.Sites[name]
	sc := &SiteChange{Site: name, Change: SiteChanged}
	switch {
	case bp == nil && hp == nil:
		// Broken at both revisions: reported among the problems.
		return nil, nil
	case bp == nil && siteExists(base, name):
		// Broken at base only: compare with nothing, like a new site.
	case bp == nil:
		sc.Change = SiteAdded
	case hp == nil && !siteExists(head, name):
		sc.Change = SiteRemoved
		sc.Settings = []string{"sites/" + name + "/site.yaml is removed: syncd at this site stops with an error and prunes nothing"}
		return sc, nil
	case hp == nil:
		sc.Change = SiteBroken
		sc.Settings = []string{"sites/" + name + " has problems: syncd at this site applies nothing until they are fixed"}
		return sc, nil
	}
	sc.Settings = siteSettings(site(base, name), site(head, name))
	products, err := compareProducts(bp, hp, opts)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", name, err)
	}
	sc.Products = products
	if len(sc.Settings) == 0 && len(sc.Products) == 0 {
		return nil, nil
	}
	return sc, nil
}

func siteExists(rev *fleetplan.Revision, name string) bool {
	if rev.Repo == nil {
		return false
	}
	_, ok := rev.Repo.SiteErrors[name]
	return ok || rev.Repo.Sites[name] != nil
}

func site(rev *fleetplan.Revision, name string) *fleet.Site {
	if rev.Repo == nil {
		return nil
	}
	return rev.Repo.Sites[name]
}

// siteSettings describes the changes of a site's own file.
func siteSettings(base, head *fleet.Site) []string {
	if base == nil || head == nil {
		return nil
	}
	var out []string
	if labels := labelChanges(base.Labels, head.Labels); labels != "" {
		out = append(out, "labels: "+labels)
	}
	if base.Spec.Channel != head.Spec.Channel {
		out = append(out, fmt.Sprintf("channel: %s -> %s", base.Spec.Channel, head.Spec.Channel))
	}
	b, h := specFields(base.Spec), specFields(head.Spec)
	for _, k := range slices.Sorted(maps.Keys(union(b, h))) {
		if k == "channel" || b[k] == h[k] {
			continue
		}
		out = append(out, fmt.Sprintf("spec.%s: %s -> %s", k, orNone(b[k]), orNone(h[k])))
	}
	return out
}

func labelChanges(base, head map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(union(base, head))) {
		bv, inBase := base[k]
		hv, inHead := head[k]
		switch {
		case !inBase:
			parts = append(parts, fmt.Sprintf("+%s=%s", k, hv))
		case !inHead:
			parts = append(parts, fmt.Sprintf("-%s=%s", k, bv))
		case bv != hv:
			parts = append(parts, fmt.Sprintf("%s=%s -> %s", k, bv, hv))
		}
	}
	return strings.Join(parts, ", ")
}

// specFields renders each top-level field of a spec as compact JSON.
func specFields(spec fleet.SiteSpec) map[string]string {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = string(v)
	}
	return out
}

func union[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// applied is what a sync leaves of one product at a site: its objects, or
// nil when it is blocked (held or failing: its objects stay as they are).
type applied struct {
	pp      *reconcile.ProductPlan
	objects map[objectKey]*unstructured.Unstructured
}

type objectKey struct {
	gk              schema.GroupKind
	namespace, name string
}

func keyOf(o *unstructured.Unstructured) objectKey {
	return objectKey{gk: o.GroupVersionKind().GroupKind(), namespace: o.GetNamespace(), name: o.GetName()}
}

func productsOf(plan *reconcile.Plan) map[string]*reconcile.ProductPlan {
	out := map[string]*reconcile.ProductPlan{}
	if plan == nil {
		return out
	}
	for _, pp := range plan.Products {
		out[pp.Name] = pp
	}
	return out
}

// objectsOf indexes the objects a product's plan applies; nil when the
// product applies nothing (not targeted, not deployed).
func objectsOf(pp *reconcile.ProductPlan) map[objectKey]*unstructured.Unstructured {
	if pp == nil || pp.Version == "" || pp.Err != nil {
		return nil
	}
	out := make(map[objectKey]*unstructured.Unstructured, len(pp.Objects))
	for _, o := range pp.Objects {
		out[keyOf(o)] = o
	}
	return out
}

// compareProducts compares the products planned at one site.
func compareProducts(base, head *reconcile.Plan, opts Options) ([]ProductChange, error) {
	bps, hps := productsOf(base), productsOf(head)
	// Every object the head renders, in any product: a product's object
	// that another product now renders is not deleted.
	rendered := map[objectKey]bool{}
	for _, pp := range hps {
		for k := range objectsOf(pp) {
			rendered[k] = true
		}
		if pp.Blocked() {
			// Blocked at head: its objects stay as they are.
			for k := range objectsOf(bps[pp.Name]) {
				rendered[k] = true
			}
		}
	}
	var out []ProductChange
	for _, name := range slices.Sorted(maps.Keys(union(bps, hps))) {
		pc, err := compareProduct(name, bps[name], hps[name], rendered, opts)
		if err != nil {
			return nil, err
		}
		if pc != nil {
			out = append(out, *pc)
		}
	}
	return out, nil
}

// compareProduct returns how product name changes, or nil when it does not.
func compareProduct(name string, b, h *reconcile.ProductPlan, rendered map[objectKey]bool, opts Options) (*ProductChange, error) {
	pc := &ProductChange{Product: name}
	if b != nil {
		pc.From = b.Version
	}
	if h != nil {
		pc.To = h.Version
	}
	switch {
	case h != nil && h.Err != nil:
		if b != nil && b.Err != nil && b.Err.Error() == h.Err.Error() {
			return nil, nil
		}
		pc.Change, pc.Reason = Failing, firstLine(h.Err)
		return pc, nil
	case h != nil && h.Held != "":
		if b != nil && b.Held == h.Held && b.Version == h.Version {
			return nil, nil
		}
		pc.Change, pc.Reason = Held, h.Held
		return pc, nil
	}
	objects, err := compareObjects(b, h, rendered, opts)
	if err != nil {
		return nil, err
	}
	pc.Objects = objects
	pc.Settings = settingsChanges(b, h)
	switch {
	case b == nil:
		pc.Change = Targeted
		if h.NotDeployed != "" {
			pc.Reason = "not deployed: " + h.NotDeployed
		}
	case h == nil:
		pc.Change = Dropped
	case b.Err != nil:
		pc.Change = Fixed
	case b.Held != "" && h.Version == b.Version:
		pc.Change = Unblocked
	case b.Version == "" && h.Version != "":
		pc.Change = Deployed
	case b.Version != "" && h.Version == "":
		pc.Change, pc.Reason = Undeployed, h.NotDeployed
	case b.Version != h.Version:
		pc.Change = versionChange(b.Version, h.Version)
	case len(objects) > 0:
		pc.Change = Manifests
	case len(pc.Settings) > 0:
		pc.Change = Settings
	default:
		return nil, nil
	}
	return pc, nil
}

func versionChange(from, to string) string {
	a, errA := semver.NewVersion(from)
	b, errB := semver.NewVersion(to)
	switch {
	case errA != nil || errB != nil:
		return changeOther
	case b.LessThan(a):
		return Downgraded
	}
	return Upgraded
}

// settingsChanges lists the changed settings that alter how the product is
// applied without changing its objects.
func settingsChanges(b, h *reconcile.ProductPlan) []string {
	if b == nil || h == nil || b.Err != nil || h.Err != nil {
		return nil
	}
	var out []string
	if b.Conflicts.Default != h.Conflicts.Default {
		out = append(out, fmt.Sprintf("conflict strategy: %s -> %s", b.Conflicts.Default, h.Conflicts.Default))
	}
	if !reflect.DeepEqual(b.Conflicts.Site, h.Conflicts.Site) {
		out = append(out, "conflict rules changed")
	}
	if b.ForceRecreate != h.ForceRecreate {
		out = append(out, fmt.Sprintf("forceRecreate: %t -> %t", b.ForceRecreate, h.ForceRecreate))
	}
	return out
}

// compareObjects lists the objects of one product that are created,
// changed or deleted from base to head.
func compareObjects(b, h *reconcile.ProductPlan, rendered map[objectKey]bool, opts Options) ([]ObjectChange, error) {
	before, after := objectsOf(b), objectsOf(h)
	var out []ObjectChange
	for k, ho := range after {
		bo, ok := before[k]
		if !ok {
			out = append(out, ObjectChange{Object: diff.Describe(ho), Action: ObjectCreated})
			continue
		}
		if reflect.DeepEqual(bo.Object, ho.Object) {
			continue
		}
		c := ObjectChange{Object: diff.Describe(ho), Action: ObjectChanged}
		if opts.Diffs {
			text, err := fieldDiff(bo, ho, opts)
			if err != nil {
				return nil, fmt.Errorf("diffing %s: %w", c.Object, err)
			}
			c.Diff = text
		}
		out = append(out, c)
	}
	for k, bo := range before {
		if _, ok := after[k]; !ok && !rendered[k] {
			out = append(out, ObjectChange{Object: diff.Describe(bo), Action: ObjectDeleted})
		}
	}
	slices.SortFunc(out, func(x, y ObjectChange) int {
		return cmp.Or(cmp.Compare(x.Object, y.Object), cmp.Compare(x.Action, y.Action))
	})
	return out, nil
}

// fieldDiff is a unified diff of two versions of an object, Secret values
// masked.
func fieldDiff(before, after *unstructured.Unstructured, opts Options) (string, error) {
	b, a := before.DeepCopy(), after.DeepCopy()
	redact.Objects(b, a)
	return diff.UnifiedBetween(b, a, orDefault(opts.BaseName, "base"), orDefault(opts.HeadName, "head"))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
