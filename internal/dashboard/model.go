package dashboard

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/internal/fleetstatus"
	"github.com/syncd-dev/syncd/internal/health"
)

// Page is what a template renders: built by the pure functions below from a
// Snapshot's view, so that every text on a page can be tested without a
// server. Links are relative to the page (Root), so the dashboard works
// behind a reverse proxy under any path.
type Page struct {
	// Title names the page; Root is the relative path to "/".
	Title string
	Root  string
	// RefreshSeconds is the meta refresh of the page.
	RefreshSeconds int
	Banner         Banner
	Summary        Summary
	// Grid is set on "/", Site on a site's page, Product on a product's.
	Grid    *Grid
	Site    *SitePage
	Product *ProductPage
	// NotFound names what a page was asked for and does not exist.
	NotFound string
}

// Banner says how old the data is and whether the last fetch failed.
type Banner struct {
	// NoData is set before the first good read.
	NoData bool
	// AsOf is when the data was read (RFC 3339, UTC) and AsOfAgo how long
	// ago; Revision is the fleet repo commit it was read at.
	AsOf, AsOfAgo, Revision string
	// FetchError is the last fetch's error, when it failed, at FailedAt.
	FetchError, FailedAt string
}

// Summary counts the product cells by health and the sites by marker.
type Summary struct {
	Products, Sites                   int
	Healthy, Progressing, Error       int
	Unknown                           int
	Stale, Unsigned, Unreadable, Held int
}

// Grid is the fleet at a glance: a row per site, a column per product
// (sites outnumber products: a large fleet scrolls down, not sideways).
type Grid struct {
	Products []ProductHeader
	Rows     []SiteRow
}

// ProductHeader heads a product's column: its name and channel versions.
type ProductHeader struct {
	Name, Href, Channels string
}

// SiteRow is one site: what its report says of the site, then a cell per
// product (in the order of Grid.Products).
type SiteRow struct {
	SiteInfo
	Cells []Cell
}

// SiteInfo is what a site's report says of the site as a whole.
type SiteInfo struct {
	Site, Href string
	// Revision is the fleet repo commit the site applied, shortened.
	Revision string
	// Age is the report's age ("unknown" for a report without a liveness
	// time).
	Age string
	// Stale, Unsigned and Unreadable mark the report; Error says why an
	// unreadable one was not read.
	Stale, Unsigned, Unreadable bool
	Error                       string
	// Held is set when the site does not apply its branch head (commit
	// verification refused it); Commits says what it decided.
	Held    bool
	Commits string
	// Compliance is the site's policy compliance score, "" when none.
	Compliance string
}

// Cell is one product at one site.
type Cell struct {
	// Present is false where the site does not report the product.
	Present bool
	Version string
	// Health is the state's name; Class its CSS class (from a fixed set).
	Health, Class string
	Drift         int
	Conflicts     int
	// Note says why the product is held back, frozen or failed.
	Note string
	// Stale and Unsigned repeat the site's markers.
	Stale, Unsigned bool
}

// SitePage is one site with every product it reports.
type SitePage struct {
	SiteInfo
	Products []SiteProduct
}

// SiteProduct is one product on a site's page.
type SiteProduct struct {
	Name, Href, Channels string
	Cell
}

// ProductPage is one product with every site that reports it.
type ProductPage struct {
	Name, Channels string
	Sites          []ProductSite
}

// ProductSite is one site on a product's page.
type ProductSite struct {
	SiteInfo
	Cell
}

// healthClass is the CSS class of each health state; anything else is
// "unknown".
var healthClass = map[health.State]string{
	health.Healthy:     "healthy",
	health.Progressing: "progressing",
	health.Error:       "error",
	health.Unknown:     "unknown",
}

// Options are a page's settings that come from the command line.
type Options struct {
	// Refresh is how often the pages reload themselves.
	Refresh time.Duration
}

// base is what every page has: the banner, the summary and the refresh;
// and the view of snap at now, nil before the first good read.
func base(title, root string, snap Snapshot, opts Options, now time.Time) (Page, *fleetstatus.View) {
	p := Page{Title: title, Root: root, RefreshSeconds: max(1, int(opts.Refresh/time.Second)), Banner: banner(snap, now)}
	if snap.Inputs == nil {
		return p, nil
	}
	view := snap.Inputs.View(now)
	p.Summary = summarize(view)
	return p, &view
}

func banner(snap Snapshot, now time.Time) Banner {
	var b Banner
	if snap.Inputs == nil {
		b.NoData = true
	} else {
		b.AsOf, b.AsOfAgo, b.Revision = stamp(snap.AsOf), ago(now.Sub(snap.AsOf)), shortSHA(snap.Inputs.Revision)
	}
	if snap.Err != nil {
		b.FetchError, b.FailedAt = snap.Err.Error(), stamp(snap.FailedAt)
	}
	return b
}

func summarize(v fleetstatus.View) Summary {
	s := Summary{Products: len(v.Products), Sites: len(v.Sites) + len(v.Unreadable), Unreadable: len(v.Unreadable)}
	for _, site := range v.Sites {
		s.Stale += b2i(site.Stale)
		s.Unsigned += b2i(site.Unsigned)
		s.Held += b2i(site.HeldHead)
	}
	for _, p := range v.Products {
		for _, c := range p.Sites {
			switch c.Health {
			case health.Healthy:
				s.Healthy++
			case health.Progressing:
				s.Progressing++
			case health.Error:
				s.Error++
			default:
				s.Unknown++
			}
		}
	}
	return s
}

// GridPage is "/": every site and product.
func GridPage(snap Snapshot, opts Options, now time.Time) Page {
	p, view := base("Fleet", "./", snap, opts, now)
	if view == nil {
		return p
	}
	g := &Grid{}
	col := map[string]int{}
	for i, pr := range view.Products {
		col[pr.Name] = i
		g.Products = append(g.Products, ProductHeader{Name: pr.Name, Href: productHref("./", pr.Name), Channels: fleetstatus.ChannelList(pr.Channels, snap.Inputs.Order)})
	}
	row := map[string]int{}
	for _, s := range view.Sites {
		row[s.Site] = len(g.Rows)
		g.Rows = append(g.Rows, SiteRow{SiteInfo: siteInfo("./", s), Cells: make([]Cell, len(view.Products))})
	}
	for _, pr := range view.Products {
		for _, s := range pr.Sites {
			r, ok := row[s.Site]
			if !ok { // a product row of a site with no site entry: not from Build
				continue
			}
			g.Rows[r].Cells[col[pr.Name]] = cell(s)
		}
	}
	for _, u := range view.Unreadable {
		g.Rows = append(g.Rows, SiteRow{SiteInfo: unreadableInfo("./", u), Cells: make([]Cell, len(view.Products))})
	}
	slices.SortStableFunc(g.Rows, func(a, b SiteRow) int { return strings.Compare(a.Site, b.Site) })
	p.Grid = g
	return p
}

// SitePageOf is the page of site.
func SitePageOf(snap Snapshot, site string, opts Options, now time.Time) Page {
	p, view := base("Site "+site, "../", snap, opts, now)
	if view == nil {
		return p
	}
	sp := &SitePage{}
	found := false
	for _, s := range view.Sites {
		if s.Site == site {
			sp.SiteInfo, found = siteInfo("../", s), true
		}
	}
	for _, u := range view.Unreadable {
		if u.Site == site {
			sp.SiteInfo, found = unreadableInfo("../", u), true
		}
	}
	if !found {
		p.NotFound = "site " + site
		return p
	}
	for _, pr := range view.Products {
		for _, s := range pr.Sites {
			if s.Site == site {
				sp.Products = append(sp.Products, SiteProduct{Name: pr.Name, Href: productHref("../", pr.Name),
					Channels: fleetstatus.ChannelList(pr.Channels, snap.Inputs.Order), Cell: cell(s)})
			}
		}
	}
	p.Site = sp
	return p
}

// ProductPageOf is the page of product.
func ProductPageOf(snap Snapshot, product string, opts Options, now time.Time) Page {
	p, view := base("Product "+product, "../", snap, opts, now)
	if view == nil {
		return p
	}
	i := slices.IndexFunc(view.Products, func(pr fleetstatus.Product) bool { return pr.Name == product })
	if i < 0 {
		p.NotFound = "product " + product
		return p
	}
	pr := view.Products[i]
	pp := &ProductPage{Name: pr.Name, Channels: fleetstatus.ChannelList(pr.Channels, snap.Inputs.Order)}
	sites := map[string]fleetstatus.SiteReport{}
	for _, s := range view.Sites {
		sites[s.Site] = s
	}
	for _, s := range pr.Sites {
		pp.Sites = append(pp.Sites, ProductSite{SiteInfo: siteInfo("../", sites[s.Site]), Cell: cell(s)})
	}
	p.Product = pp
	return p
}

func siteInfo(root string, s fleetstatus.SiteReport) SiteInfo {
	info := SiteInfo{Site: s.Site, Href: siteHref(root, s.Site), Revision: shortSHA(s.Revision), Age: "unknown",
		Stale: s.Stale, Unsigned: s.Unsigned, Held: s.HeldHead, Commits: s.Commits}
	if !s.RefreshedAt.IsZero() {
		info.Age = ago(time.Duration(s.AgeSeconds) * time.Second)
	}
	if s.ComplianceScore != nil {
		info.Compliance = fmt.Sprintf("%d%%", *s.ComplianceScore)
	}
	return info
}

func unreadableInfo(root string, u fleetstatus.Unreadable) SiteInfo {
	return SiteInfo{Site: u.Site, Href: siteHref(root, u.Site), Unreadable: true, Error: u.Error}
}

func cell(s fleetstatus.Site) Cell {
	class, ok := healthClass[s.Health]
	if !ok {
		class = "unknown"
	}
	return Cell{Present: true, Version: s.Version, Health: string(s.Health), Class: class, Drift: s.Drift, Conflicts: s.Conflicts,
		Note: s.Note, Stale: s.Stale, Unsigned: s.Unsigned}
}

// siteHref and productHref link a site's and a product's page; names are
// path-escaped (they come from Git).
func siteHref(root, site string) string { return root + "sites/" + url.PathEscape(site) }

func productHref(root, product string) string { return root + "products/" + url.PathEscape(product) }

// stamp is t in RFC 3339, UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ago is d for people: "45s", "12m", "3h05m", "4d".
func ago(d time.Duration) string {
	switch d = max(0, d); {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
