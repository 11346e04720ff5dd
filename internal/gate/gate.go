// Package gate decides whether a change may be applied at a site now, or
// must wait: change control of SPEC §2.1 (freezes, maintenance windows and
// the ramp of a new version across the sites of a channel). It is pure: the
// caller says what changes, and when "now" is.
package gate

import (
	"fmt"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
)

// ChangeKind is what applying a product's plan would do to the site.
type ChangeKind string

// The kinds of change.
const (
	// NoChange means the plan is what was applied last: applying it only
	// corrects drift, which is never held.
	NoChange ChangeKind = ""
	// Install is a product with nothing applied at the site yet.
	Install ChangeKind = "install"
	// Update is a new version, or new manifests of the version applied.
	Update ChangeKind = "update"
	// Removal is a product leaving the site: its objects would be pruned.
	Removal ChangeKind = "removal"
)

// HoldKind names what holds a change back.
type HoldKind string

// The kinds of hold, in the order Decide checks them.
const (
	FleetFreeze HoldKind = "fleet-freeze"
	SiteFreeze  HoldKind = "site-freeze"
	Ramp        HoldKind = "ramp"
	Window      HoldKind = "maintenance-window"
)

// Hold is a change that waits, why, and until when.
type Hold struct {
	Kind HoldKind
	// Reason is the sentence status shows, such as "waiting for maintenance
	// window, opens 2026-12-03T02:00:00Z".
	Reason string
	// Until is when the change may go ahead; zero when only a commit can
	// lift the hold (a freeze without an end).
	Until time.Time
}

// String returns the reason.
func (h *Hold) String() string { return h.Reason }

// Input is everything Decide needs about one product at one site.
type Input struct {
	// Site and Product name what is decided.
	Site, Product string
	// Change is what applying the product's plan would do.
	Change ChangeKind
	// Recall is true when the change rolls the site back from a recalled
	// release: it ignores windows and the ramp, not a freeze.
	Recall bool
	// Windows are the site's maintenance windows; none means any time.
	Windows []fleet.Window
	// SiteFrozen is the site's freeze: true.
	SiteFrozen bool
	// FleetFreeze is fleet.yaml's freeze, if any.
	FleetFreeze *fleet.Freeze
	// Ramp paces an Update across the channel's sites; nil for no ramp.
	Ramp *RampInput
	// Now is the time of the decision.
	Now time.Time
}

// RampInput is the ramp of one channel change (fleet rollout).
type RampInput struct {
	// PercentPerHour is fleet.yaml's rollout.maxSitesPercentPerHour; 0 is
	// no limit.
	PercentPerHour int
	// Sites are the sites whose effective channel for the product is the
	// channel; the deciding site is counted even when missing.
	Sites []string
	// Version is the version the channel moved to (not a site's capped
	// version), so that every site ranks the same way.
	Version string
	// Since is the commit time of the channel change that put Version on
	// the channel; zero when unknown, which disables the ramp.
	Since time.Time
}

// Decide returns nil when the change may be applied at in.Now, or the hold
// that keeps it back. The rules, in order:
//
//   - no change (drift correction) is always applied;
//   - a fleet freeze in force, then a site freeze, holds every change,
//     recall roll-offs included;
//   - a recall roll-off is applied at once;
//   - an Update waits for the site's turn in the ramp (Turn); an Install is
//     never ramped: a site that joins a channel, or a product new at a
//     site, has nothing running that a bad release could break;
//   - every change waits for an open maintenance window.
func Decide(in Input) (*Hold, error) {
	if in.Change == NoChange {
		return nil, nil
	}
	if in.FleetFreeze.InForce(in.Now) {
		h := &Hold{Kind: FleetFreeze, Reason: "frozen: " + in.FleetFreeze.String()}
		if in.FleetFreeze.Until != nil {
			h.Until = *in.FleetFreeze.Until
		}
		return h, nil
	}
	if in.SiteFrozen {
		return &Hold{Kind: SiteFreeze, Reason: fmt.Sprintf("frozen: site %s has freeze: true", in.Site)}, nil
	}
	if in.Recall {
		return nil, nil
	}
	if r := in.Ramp; in.Change == Update && r != nil && r.PercentPerHour > 0 && !r.Since.IsZero() {
		turn := Turn(in.Site, in.Product, r.Version, r.Sites, r.PercentPerHour, r.Since)
		if in.Now.Before(turn) {
			return &Hold{Kind: Ramp, Reason: "ramp: this site's turn at " + formatTime(turn), Until: turn}, nil
		}
	}
	next, err := fleet.NextOpen(in.Windows, in.Now)
	if err != nil {
		return nil, fmt.Errorf("maintenance windows of site %s: %w", in.Site, err)
	}
	if next.After(in.Now) {
		return &Hold{Kind: Window, Reason: "waiting for maintenance window, opens " + formatTime(next), Until: next}, nil
	}
	return nil, nil
}

// formatTime writes t as status shows times: RFC 3339 in UTC.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
