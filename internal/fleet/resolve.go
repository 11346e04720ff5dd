package fleet

import (
	"fmt"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Resolution is the version of a product at a site, and why.
type Resolution struct {
	// Site and Product are what was resolved.
	Site, Product string
	// Channel is the channel the version comes from: the site's product
	// override, else the site's channel.
	Channel string
	// ChannelVersion is the version Channel points to, or "" when the
	// product is not deployed at the site.
	ChannelVersion string
	// NotDeployed is true when the product's channels file has no entry for
	// Channel: the product is not deployed at the site.
	NotDeployed bool
	// Version is the version to deploy, or nil when NotDeployed.
	Version *semver.Version
	// Release is the release to deploy, or nil when NotDeployed.
	Release *Release
	// Reason explains the result, e.g. "channel prod points to 2.4.0;
	// capped by maxVersion 1.8.99; using 1.8.2".
	Reason string
	// Substituted, when Version is not ChannelVersion, says why for a person
	// looking at the site, e.g. "channel staging says 5.2.0 (recalled: token
	// cache leaks); running 5.1.1"; empty otherwise.
	Substituted string
}

// Resolve returns the version of product at site (SPEC §2): the version
// the site's channel, or the site's per-product channel, points to in
// channels/<product>.yaml; when that exceeds the site's maxVersion for the
// product, or is recalled, the newest release that is not recalled and is at
// or below that limit. A product whose channels file has no entry for the
// channel resolves with NotDeployed set. Resolve never returns a recalled
// release: when no release qualifies it returns an error saying why.
// Resolve does not check that the product targets the site.
func (r *Repo) Resolve(site, product string) (Resolution, error) {
	s, p, err := r.siteAndProduct(site, product)
	if err != nil {
		return Resolution{Site: site, Product: product}, err
	}
	res := Resolution{Site: site, Product: product, Channel: s.Spec.Channel}
	override := s.Spec.Products[product]
	source := "channel"
	if override.Channel != "" {
		res.Channel, source = override.Channel, "per-product channel"
	}
	if p.Channels == nil || p.Channels.Spec[res.Channel] == "" {
		res.NotDeployed = true
		res.Reason = notDeployedReason(product, res.Channel, p.Channels != nil)
		return res, nil
	}
	res.ChannelVersion = p.Channels.Spec[res.Channel]
	reasons := []string{fmt.Sprintf("%s %s points to %s", source, res.Channel, res.ChannelVersion)}
	rel, more, why, err := pickRelease(p, res.ChannelVersion, override.MaxVersion)
	reasons = append(reasons, more...)
	res.Reason = strings.Join(reasons, "; ")
	if err != nil {
		return res, fmt.Errorf("resolving %s at site %s: %w (%s)", product, site, err, res.Reason)
	}
	res.Release, res.Version = rel, rel.Version
	if why != "" {
		res.Substituted = fmt.Sprintf("channel %s says %s (%s); running %s", res.Channel, res.ChannelVersion, why, rel.Version.Original())
	}
	return res, nil
}

// pickRelease applies the maxVersion cap and skips recalled releases. It
// returns the release, the reasons that moved the choice away from the
// channel's version, and in a few words why it moved ("" when it did not).
func pickRelease(p *Product, channelVersion, maxVersion string) (rel *Release, reasons []string, why string, err error) {
	want, err := parseVersion(channelVersion)
	if err != nil {
		return nil, nil, "", fmt.Errorf("channels/%s.yaml: %w", p.Name, err)
	}
	limit, capped := want, false
	if maxVersion != "" {
		max, err := parseVersion(maxVersion)
		if err != nil {
			return nil, nil, "", fmt.Errorf("maxVersion: %w", err)
		}
		if want.GreaterThan(max) {
			limit, capped = max, true
			reasons = append(reasons, "capped by maxVersion "+maxVersion)
			why = "above maxVersion " + maxVersion
		}
	}
	if !capped {
		rel := p.release(want)
		if rel == nil {
			return nil, reasons, "", fmt.Errorf("no release %s (no %s/)", channelVersion, path.Join(productsDir, p.Name, releasesDir, channelVersion))
		}
		if !rel.Spec.Recalled {
			return rel, reasons, "", nil
		}
		reasons = append(reasons, recalledReason(rel))
		why = "recalled"
		if rel.Spec.Reason != "" {
			why += ": " + abbreviate(rel.Spec.Reason, maxWhyReason)
		}
	}
	if rel = newestUsable(p.Releases, limit); rel == nil {
		return nil, reasons, why, fmt.Errorf("no release at or below %s that is not recalled", limit)
	}
	return rel, append(reasons, "using "+rel.Version.Original()), why, nil
}

// maxWhyReason is how many characters of a recall reason Substituted
// quotes; Reason has it whole.
const maxWhyReason = 24

// abbreviate shortens s to its first clause and at most max runes, cut at a
// word boundary and marked with an ellipsis when shortened.
func abbreviate(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	short, _, cut := strings.Cut(s, ";")
	if r := []rune(short); len(r) > max {
		short, cut = string(r[:max]), true
		if i := strings.LastIndex(short, " "); i > 0 && r[max] != ' ' {
			short = short[:i]
		}
	}
	if cut {
		return strings.TrimRight(short, " ,.:") + "…"
	}
	return short
}

// newestUsable returns the newest release at or below limit that is not
// recalled; releases are sorted oldest first.
func newestUsable(releases []*Release, limit *semver.Version) *Release {
	for i := len(releases) - 1; i >= 0; i-- {
		rel := releases[i]
		if !rel.Spec.Recalled && !rel.Version.GreaterThan(limit) {
			return rel
		}
	}
	return nil
}

func recalledReason(rel *Release) string {
	if rel.Spec.Reason != "" {
		return fmt.Sprintf("%s is recalled (%s)", rel.Version.Original(), rel.Spec.Reason)
	}
	return rel.Version.Original() + " is recalled"
}

func notDeployedReason(product, channel string, hasFile bool) string {
	if !hasFile {
		return fmt.Sprintf("no channels/%s.yaml", product)
	}
	return fmt.Sprintf("channels/%s.yaml has no entry for channel %s", product, channel)
}

// siteAndProduct looks up a site and a product, explaining why when either
// is missing.
func (r *Repo) siteAndProduct(site, product string) (*Site, *Product, error) {
	s, ok := r.Sites[site]
	if !ok {
		if err := r.SiteErrors[site]; err != nil {
			return nil, nil, fmt.Errorf("site %q has problems: %w", site, err)
		}
		return nil, nil, fmt.Errorf("no site %q in the fleet repo", site)
	}
	p, ok := r.Products[product]
	if !ok {
		if err := r.ProductErrors[product]; err != nil {
			return nil, nil, fmt.Errorf("product %q has problems: %w", product, err)
		}
		return nil, nil, fmt.Errorf("no product %q in the fleet repo", product)
	}
	return s, p, nil
}
