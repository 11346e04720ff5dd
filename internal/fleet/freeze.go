package fleet

import (
	"fmt"
	"time"
)

// Freeze is the fleet-wide emergency stop of fleet.yaml (spec.freeze): while
// it is in force no site applies a change or prunes, and the promoter
// promotes nothing. Drift correction still runs.
type Freeze struct {
	// Reason says why the fleet is frozen; status reports it.
	Reason string `json:"reason"`
	// Until, when set, is the moment the freeze lifts by itself (RFC 3339).
	// Without it the freeze lasts until it is removed from fleet.yaml.
	Until *time.Time `json:"until,omitempty"`
}

// InForce reports whether the freeze applies at now: it is set and its Until,
// if any, has not passed. A nil freeze is never in force.
func (f *Freeze) InForce(now time.Time) bool {
	return f != nil && (f.Until == nil || now.Before(*f.Until))
}

// String describes the freeze for status, such as
// "year-end (until 2027-01-04T08:00:00Z)".
func (f *Freeze) String() string {
	if f == nil {
		return ""
	}
	if f.Until == nil {
		return f.Reason
	}
	return fmt.Sprintf("%s (until %s)", f.Reason, f.Until.UTC().Format(time.RFC3339))
}

// checkFreeze validates the fleet freeze at p.
func (d *document) checkFreeze(p fieldPath, f *Freeze) {
	if f != nil && f.Reason == "" {
		d.errorf(p.child("reason"), `required: say why the fleet is frozen, such as "year-end"`)
	}
}

// parseTimestamp parses a fleet-file timestamp: RFC 3339 with a time zone.
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 with a time zone, such as 2027-01-04T08:00:00Z", s)
	}
	return t, nil
}
