// Package fleetstatus builds `syncd fleet status`: products x sites from the
// sites' status reports and the channels of the fleet repo's head (SPEC §6).
// Build is a pure function; the CLI fetches the reports and prints.
package fleetstatus

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
)

// View is the fleet's state: every product with its channels and the sites
// that report it, and the sites whose reports could not be read.
type View struct {
	// Products are sorted by name.
	Products []Product `json:"products" yaml:"products"`
	// Unreadable are the sites whose report could not be read, sorted.
	Unreadable []Unreadable `json:"unreadable,omitempty" yaml:"unreadable,omitempty"`
	// Sites are the sites whose report was read, sorted by name, with what
	// their report says of the site as a whole.
	Sites []SiteReport `json:"sites,omitempty" yaml:"sites,omitempty"`
}

// SiteReport is what one site's report says of the site as a whole.
type SiteReport struct {
	Site string `json:"site" yaml:"site"`
	// Revision is the fleet repo commit the site last applied.
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
	// RefreshedAt, AgeSeconds, Stale and Unsigned mean what they mean in
	// Site.
	RefreshedAt time.Time `json:"refreshedAt,omitzero" yaml:"refreshedAt,omitempty"`
	AgeSeconds  int64     `json:"ageSeconds" yaml:"ageSeconds"`
	Stale       bool      `json:"stale" yaml:"stale"`
	Unsigned    bool      `json:"unsigned,omitempty" yaml:"unsigned,omitempty"`
	// Commits says what commit verification decided, when the site
	// verifies commits: a head it refused (the site stays at its last
	// verified revision) is visible fleet-wide.
	Commits string `json:"commits,omitempty" yaml:"commits,omitempty"`
	// HeldHead is set when the site does not apply its branch head because
	// the head did not verify.
	HeldHead bool `json:"heldHead,omitempty" yaml:"heldHead,omitempty"`
	// ComplianceScore is the site's policy compliance (0-100), when
	// policies apply there.
	ComplianceScore *int `json:"complianceScore,omitempty" yaml:"complianceScore,omitempty"`
}

// Inputs is what a View is built from, as read from Git at one time: the
// sites' reports and the fleet repo's channels. A long-running reader (the
// dashboard) keeps them and builds the View when asked, so that ages and
// staleness are those of the moment.
type Inputs struct {
	// Revision is the fleet repo commit the channels were read at.
	Revision string
	// Reports, Unreadable, Unsigned and Channels are Build's arguments.
	Reports    map[string]*status.Report
	Unreadable map[string]error
	Unsigned   map[string]bool
	Channels   map[string]map[string]string
	// Order is the fleet's channel order (fleet.yaml spec.channels).
	Order []string
	// StaleAfter is the staleness bound (fleet.yaml
	// spec.reports.staleAfter; 0 for the default).
	StaleAfter time.Duration
}

// View builds the view of in at now.
func (in *Inputs) View(now time.Time) View {
	return Build(in.Reports, in.Unreadable, in.Unsigned, in.Channels, now, in.StaleAfter)
}

// Product is one product across the fleet.
type Product struct {
	Name string `json:"name" yaml:"name"`
	// Channels maps each channel to the product's version on it, from the
	// fleet repo's head.
	Channels map[string]string `json:"channels,omitempty" yaml:"channels,omitempty"`
	// Sites are the sites reporting the product, sorted by name.
	Sites []Site `json:"sites,omitempty" yaml:"sites,omitempty"`
}

// Site is one product at one site, from the site's report.
type Site struct {
	Site      string       `json:"site" yaml:"site"`
	Version   string       `json:"version,omitempty" yaml:"version,omitempty"`
	Health    health.State `json:"health" yaml:"health"`
	Drift     int          `json:"drift" yaml:"drift"`
	Conflicts int          `json:"conflicts" yaml:"conflicts"`
	// RefreshedAt is the report's liveness time; zero for a version-1
	// report, which has none.
	RefreshedAt time.Time `json:"refreshedAt,omitzero" yaml:"refreshedAt,omitempty"`
	// AgeSeconds is how old the report was when the view was built.
	AgeSeconds int64 `json:"ageSeconds" yaml:"ageSeconds"`
	// Stale is set when the report is older than the staleness bound: its
	// health counts as unknown.
	Stale bool `json:"stale" yaml:"stale"`
	// Unsigned is set when the report was read without a signature: the
	// site declares no key (sites/<site>/site.pub), so anyone who may push
	// its status branch could have written it.
	Unsigned bool   `json:"unsigned,omitempty" yaml:"unsigned,omitempty"`
	Note     string `json:"note,omitempty" yaml:"note,omitempty"`
}

// Unreadable names a site whose report could not be read, and why.
type Unreadable struct {
	Site  string `json:"site" yaml:"site"`
	Error string `json:"error" yaml:"error"`
}

// Build is the view of reports (by site) and unreadable (by site), with
// channels (product -> channel -> version) from the fleet repo, at now;
// reports older than staleAfter are marked stale (status.DefaultStaleAfter
// when 0), those of the sites in unsigned are marked unsigned. Products only
// in channels are listed without sites.
func Build(reports map[string]*status.Report, unreadable map[string]error, unsigned map[string]bool, channels map[string]map[string]string, now time.Time, staleAfter time.Duration) View {
	byName := map[string]*Product{}
	product := func(name string) *Product {
		if p, ok := byName[name]; ok {
			return p
		}
		p := &Product{Name: name}
		byName[name] = p
		return p
	}
	var sites []SiteReport
	for name, chans := range channels {
		product(name).Channels = maps.Clone(chans)
	}
	for site, r := range reports {
		age := int64(0)
		if !r.RefreshedAt.IsZero() {
			age = int64(now.Sub(r.RefreshedAt) / time.Second)
		}
		stale := r.Stale(now, staleAfter)
		sr := SiteReport{Site: site, Revision: r.Revision, RefreshedAt: r.RefreshedAt, AgeSeconds: age, Stale: stale,
			Unsigned: unsigned[site], Commits: r.Commits.String(), HeldHead: r.Commits.Held()}
		if r.Compliance != nil {
			sr.ComplianceScore = r.Compliance.Score
		}
		sites = append(sites, sr)
		for _, rp := range r.Products {
			p := product(rp.Name)
			h := rp.Health
			if stale {
				h = health.Unknown
			}
			p.Sites = append(p.Sites, Site{
				Site: site, Version: rp.Version, Health: h, Drift: rp.Drift, Conflicts: rp.Conflicts,
				RefreshedAt: r.RefreshedAt, AgeSeconds: age, Stale: stale, Unsigned: unsigned[site], Note: rp.Note,
			})
		}
	}
	v := View{Sites: sites}
	slices.SortFunc(v.Sites, func(a, b SiteReport) int { return cmp.Compare(a.Site, b.Site) })
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		p := byName[name]
		slices.SortFunc(p.Sites, func(a, b Site) int { return cmp.Compare(a.Site, b.Site) })
		v.Products = append(v.Products, *p)
	}
	for _, site := range slices.Sorted(maps.Keys(unreadable)) {
		v.Unreadable = append(v.Unreadable, Unreadable{Site: site, Error: unreadable[site].Error()})
	}
	return v
}

// WriteTable prints v as a table, one row per product and site (a product
// without sites gets one row), channels in order (the fleet's channel
// order).
func WriteTable(w io.Writer, v View, order []string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tCHANNELS\tSITE\tVERSION\tHEALTH\tDRIFT\tCONFLICTS\tREPORT AGE\tNOTE")
	for _, p := range v.Products {
		chans := ChannelList(p.Channels, order)
		if len(p.Sites) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t\n", p.Name, chans)
			continue
		}
		for _, s := range p.Sites {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", p.Name, chans, s.Site, dash(s.Version), s.Health,
				s.Drift, s.Conflicts, age(s), s.Note)
		}
	}
	return tw.Flush()
}

// ChannelList is "dev=1.2.0 staging=1.1.0", in order, then any channel not
// in order by name.
func ChannelList(chans map[string]string, order []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, ch := range order {
		if v, ok := chans[ch]; ok {
			parts = append(parts, ch+"="+v)
			seen[ch] = true
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(chans)) {
		if !seen[ch] {
			parts = append(parts, ch+"="+chans[ch])
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// age is a report's age for the table, with "(stale)" when stale and
// "(unsigned)" when read unsigned.
func age(s Site) string {
	out := "unknown"
	if !s.RefreshedAt.IsZero() {
		out = (time.Duration(s.AgeSeconds) * time.Second).String()
	}
	var marks []string
	if s.Stale && !s.RefreshedAt.IsZero() {
		marks = append(marks, "stale")
	}
	if s.Unsigned {
		marks = append(marks, "unsigned")
	}
	if len(marks) > 0 {
		out += " (" + strings.Join(marks, ", ") + ")"
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
