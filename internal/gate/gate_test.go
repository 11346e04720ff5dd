package gate

import (
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 30, 0, 0, time.UTC)
	until := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	nightly := []fleet.Window{{Schedule: "0 2 * * *", Duration: fleet.Duration{Duration: 4 * time.Hour}}}
	afternoon := []fleet.Window{{Schedule: "0 14 * * *", Duration: fleet.Duration{Duration: time.Hour}}}
	yearEnd := &fleet.Freeze{Reason: "year-end", Until: &until}
	lifted := &fleet.Freeze{Reason: "last year", Until: &now}
	// rampLate is a ramp in which this site's turn is an hour after now.
	rampLate := &RampInput{PercentPerHour: 50, Sites: []string{"s1", "s2"}, Version: "2.0.0", Since: now.Add(-30 * time.Minute)}
	if Turn("s1", "web", "2.0.0", rampLate.Sites, 50, rampLate.Since) == rampLate.Since {
		rampLate.Sites = []string{"s0", "s2"} // keep s1 second whatever the hash
		for _, s := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			if Turn("s1", "web", "2.0.0", []string{s}, 50, rampLate.Since) != rampLate.Since {
				rampLate.Sites = []string{s}
				break
			}
		}
	}
	tests := []struct {
		name string
		in   Input
		want *Hold
	}{
		{"no change is applied in a freeze", Input{FleetFreeze: yearEnd, SiteFrozen: true, Windows: nightly}, nil},
		{"update outside the window waits", Input{Change: Update, Windows: nightly},
			&Hold{Kind: Window, Reason: "waiting for maintenance window, opens 2026-12-03T02:00:00Z", Until: time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)}},
		{"update inside the window", Input{Change: Update, Windows: afternoon}, nil},
		{"no windows: any time", Input{Change: Update}, nil},
		{"install waits for the window", Input{Change: Install, Windows: nightly},
			&Hold{Kind: Window, Reason: "waiting for maintenance window, opens 2026-12-03T02:00:00Z", Until: time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)}},
		{"removal waits for the window", Input{Change: Removal, Windows: nightly},
			&Hold{Kind: Window, Reason: "waiting for maintenance window, opens 2026-12-03T02:00:00Z", Until: time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)}},
		{"fleet freeze", Input{Change: Update, FleetFreeze: yearEnd},
			&Hold{Kind: FleetFreeze, Reason: "frozen: year-end (until 2027-01-04T08:00:00Z)", Until: until}},
		{"fleet freeze without end", Input{Change: Update, FleetFreeze: &fleet.Freeze{Reason: "incident 42"}},
			&Hold{Kind: FleetFreeze, Reason: "frozen: incident 42"}},
		{"lifted fleet freeze", Input{Change: Update, FleetFreeze: lifted}, nil},
		{"fleet freeze wins over site freeze", Input{Change: Update, FleetFreeze: yearEnd, SiteFrozen: true},
			&Hold{Kind: FleetFreeze, Reason: "frozen: year-end (until 2027-01-04T08:00:00Z)", Until: until}},
		{"site freeze", Input{Site: "s1", Change: Removal, SiteFrozen: true},
			&Hold{Kind: SiteFreeze, Reason: "frozen: site s1 has freeze: true"}},
		{"recall roll-off is not held by a window", Input{Change: Update, Recall: true, Windows: nightly}, nil},
		{"recall roll-off is not ramped", Input{Site: "s1", Product: "web", Change: Update, Recall: true, Ramp: rampLate}, nil},
		{"recall roll-off waits for a site freeze", Input{Site: "s1", Change: Update, Recall: true, SiteFrozen: true},
			&Hold{Kind: SiteFreeze, Reason: "frozen: site s1 has freeze: true"}},
		{"recall roll-off waits for a fleet freeze", Input{Change: Update, Recall: true, FleetFreeze: yearEnd},
			&Hold{Kind: FleetFreeze, Reason: "frozen: year-end (until 2027-01-04T08:00:00Z)", Until: until}},
		{"update waits for its turn", Input{Site: "s1", Product: "web", Change: Update, Ramp: rampLate},
			&Hold{Kind: Ramp, Reason: "ramp: this site's turn at 2026-12-02T15:00:00Z", Until: now.Add(30 * time.Minute)}},
		{"ramp before window", Input{Site: "s1", Product: "web", Change: Update, Ramp: rampLate, Windows: afternoon},
			&Hold{Kind: Ramp, Reason: "ramp: this site's turn at 2026-12-02T15:00:00Z", Until: now.Add(30 * time.Minute)}},
		{"turn has come", Input{Site: "s1", Product: "web", Change: Update, Ramp: &RampInput{
			PercentPerHour: 50, Sites: rampLate.Sites, Version: "2.0.0", Since: now.Add(-2 * time.Hour)}}, nil},
		{"install is not ramped (a site joining mid-ramp)", Input{Site: "s1", Product: "web", Change: Install, Ramp: rampLate}, nil},
		{"unknown channel change time: no ramp", Input{Site: "s1", Product: "web", Change: Update, Ramp: &RampInput{
			PercentPerHour: 50, Sites: rampLate.Sites, Version: "2.0.0"}}, nil},
		{"no limit: no ramp", Input{Site: "s1", Product: "web", Change: Update, Ramp: &RampInput{
			Sites: rampLate.Sites, Version: "2.0.0", Since: now}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			got, err := Decide(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecideBadWindow(t *testing.T) {
	_, err := Decide(Input{Site: "s1", Change: Update, Now: time.Now(), Windows: []fleet.Window{{Schedule: "nope"}}})
	if err == nil {
		t.Fatal("Decide with an invalid window: no error")
	}
}
