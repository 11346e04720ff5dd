package status

import (
	"bytes"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/syncd-dev/syncd/internal/health"
)

// The status report file a site publishes to Git (SPEC §4).
const (
	// ReportFile is the report's path on its branch.
	ReportFile = "status.yaml"
	// ReportAPIVersion and ReportKind head the report.
	ReportAPIVersion = "syncd.dev/v1alpha1"
	ReportKind       = "StatusReport"
)

// Branch is the fleet repo branch that holds site's report as its only
// commit.
func Branch(site string) string { return BranchPrefix + site }

// Report is the content of a site's status report in Git: what the promoter
// and `syncd fleet status` read. It holds nothing that changes when the
// site's state does not (no time of the last sync), so that it is pushed only
// on change.
type Report struct {
	// APIVersion and Kind are ReportAPIVersion and ReportKind.
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"`
	// FormatVersion is the report format (ReportFormatVersion when written
	// by this syncd; absent, and read as 1, in older reports).
	FormatVersion int `json:"formatVersion,omitempty" yaml:"formatVersion,omitempty"`
	// Site is the reporting site.
	Site string `json:"site" yaml:"site"`
	// Revision is the fleet repo commit the site last applied.
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
	// RefreshedAt is the site's liveness time: refreshed at a bounded rate
	// (DefaultRefresh) even when nothing else changes.
	RefreshedAt time.Time `json:"refreshedAt,omitzero" yaml:"refreshedAt,omitempty"`
	// Products are the site's products, sorted by name.
	Products []ReportProduct `json:"products,omitempty" yaml:"products,omitempty"`
	// Compliance is the site's policy compliance (SPEC §7), when the fleet
	// has policies.
	Compliance *Compliance `json:"compliance,omitempty" yaml:"compliance,omitempty"`
	// Commits is the site's commit verification (SPEC §7), when it verifies
	// commits: a head it refused is visible fleet-wide.
	Commits *Commits `json:"commits,omitempty" yaml:"commits,omitempty"`
}

// ReportProduct is one product in a Report; its fields mean what they mean
// in ProductStatus.
type ReportProduct struct {
	Name         string       `json:"name" yaml:"name"`
	Version      string       `json:"version,omitempty" yaml:"version,omitempty"`
	VersionSince time.Time    `json:"versionSince,omitzero" yaml:"versionSince,omitempty"`
	Health       health.State `json:"health" yaml:"health"`
	Since        time.Time    `json:"since,omitzero" yaml:"since,omitempty"`
	Transitions  []Transition `json:"transitions,omitempty" yaml:"transitions,omitempty"`
	// Intervals are the product's health since VersionSince, oldest first;
	// Earlier sums older time folded out of them (format version 2).
	Intervals []Interval `json:"intervals,omitempty" yaml:"intervals,omitempty"`
	Earlier   *Tally     `json:"earlier,omitempty" yaml:"earlier,omitempty"`
	Drift     int        `json:"drift" yaml:"drift"`
	Conflicts int        `json:"conflicts" yaml:"conflicts"`
	Note      string     `json:"note,omitempty" yaml:"note,omitempty"`
}

// NewReport is the report of st, refreshed at st.UpdatedAt.
func NewReport(st *SiteStatus) *Report {
	r := &Report{
		APIVersion: ReportAPIVersion, Kind: ReportKind, FormatVersion: ReportFormatVersion,
		Site: st.Site, Revision: st.Revision, RefreshedAt: zeroOrNormal(st.UpdatedAt),
		Compliance: st.Compliance, Commits: st.Commits,
	}
	for _, p := range st.Products {
		rp := ReportProduct{
			Name: p.Name, Version: p.Version, VersionSince: zeroOrNormal(p.VersionSince),
			Health: p.Health, Since: zeroOrNormal(p.Since),
			Drift: p.Drift, Conflicts: p.Conflicts, Note: p.Note,
		}
		for _, t := range p.Transitions {
			rp.Transitions = append(rp.Transitions, Transition{From: t.From, To: t.To, At: zeroOrNormal(t.At)})
		}
		for _, iv := range p.Intervals {
			rp.Intervals = append(rp.Intervals, Interval{Health: iv.Health, From: zeroOrNormal(iv.From)})
		}
		if p.Earlier != nil {
			rp.Earlier = &Tally{Until: zeroOrNormal(p.Earlier.Until), HealthySeconds: p.Earlier.HealthySeconds, ErrorSeconds: p.Earlier.ErrorSeconds}
		}
		r.Products = append(r.Products, rp)
	}
	return r
}

// Marshal encodes r as the YAML of ReportFile, fields in a fixed order.
func (r *Report) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding status report of site %s: %w", r.Site, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding status report of site %s: %w", r.Site, err)
	}
	return b.Bytes(), nil
}

// ParseReport decodes a ReportFile.
func ParseReport(data []byte) (*Report, error) {
	r := &Report{}
	if err := yaml.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decoding status report: %w", err)
	}
	if r.APIVersion != ReportAPIVersion || r.Kind != ReportKind {
		return nil, fmt.Errorf("decoding status report: got apiVersion %q kind %q, want %s %s", r.APIVersion, r.Kind, ReportAPIVersion, ReportKind)
	}
	if r.Site == "" {
		return nil, fmt.Errorf("decoding status report: no site")
	}
	if r.FormatVersion < 0 {
		return nil, fmt.Errorf("decoding status report of site %s: invalid format version %d", r.Site, r.FormatVersion)
	}
	if r.FormatVersion > ReportFormatVersion {
		return nil, fmt.Errorf("decoding status report of site %s: format version %d is newer than this syncd reads (%d)", r.Site, r.FormatVersion, ReportFormatVersion)
	}
	if r.FormatVersion == 0 {
		r.FormatVersion = 1
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("decoding status report of site %s: %w", r.Site, err)
	}
	return r, nil
}

// validate checks what readers rely on: named products and known health
// states.
func (r *Report) validate() error {
	for i, p := range r.Products {
		if p.Name == "" {
			return fmt.Errorf("products[%d]: no name", i)
		}
		if !knownHealth(p.Health) {
			return fmt.Errorf("product %s: health %q is not one of %s, %s, %s, %s", p.Name, p.Health, health.Healthy, health.Progressing, health.Error, health.Unknown)
		}
		for j, iv := range p.Intervals {
			if !knownHealth(iv.Health) {
				return fmt.Errorf("product %s: intervals[%d]: health %q is unknown", p.Name, j, iv.Health)
			}
		}
		if t := p.Earlier; t != nil && (t.HealthySeconds < 0 || t.ErrorSeconds < 0) {
			return fmt.Errorf("product %s: earlier: negative seconds", p.Name)
		}
	}
	return nil
}

func knownHealth(s health.State) bool {
	switch s {
	case health.Healthy, health.Progressing, health.Error, health.Unknown:
		return true
	}
	return false
}

// zeroOrNormal is t normalized, keeping the zero time zero.
func zeroOrNormal(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return normalize(t)
}
