package fleet

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFreezeInForce(t *testing.T) {
	until := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		freeze *Freeze
		now    time.Time
		want   bool
	}{
		{"no freeze", nil, until, false},
		{"no until: in force until removed", &Freeze{Reason: "incident"}, until.AddDate(10, 0, 0), true},
		{"before until", &Freeze{Reason: "year-end", Until: &until}, until.Add(-time.Second), true},
		{"at until: lifted", &Freeze{Reason: "year-end", Until: &until}, until, false},
		{"after until", &Freeze{Reason: "year-end", Until: &until}, until.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.freeze.InForce(tt.now); got != tt.want {
				t.Errorf("InForce(%s) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestLoadFleetFreeze(t *testing.T) {
	for _, until := range []string{"2027-01-04T09:00:00+01:00", `"2027-01-04T08:00:00Z"`} {
		repo := mustLoad(t, mapFS(baseFiles(), map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  freeze: {reason: year-end, until: ` + until + `}
`}))
		f := repo.Fleet.Spec.Freeze
		want := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
		if f == nil || f.Reason != "year-end" || f.Until == nil || !f.Until.Equal(want) {
			t.Fatalf("until %s: Freeze = %+v, want year-end until %s", until, f, want)
		}
		if got := f.String(); got != "year-end (until 2027-01-04T08:00:00Z)" {
			t.Errorf("String() = %q", got)
		}
	}
}

func TestLoadFleetFreezeProblems(t *testing.T) {
	tests := []struct {
		freeze string
		want   string
	}{
		{`{until: 2027-01-04T08:00:00Z}`, `fleet.yaml:7: spec.freeze.reason: required: say why the fleet is frozen, such as "year-end"`},
		{`{reason: x, until: 2027-01-04}`, `fleet.yaml:7: spec.freeze.until: invalid time "2027-01-04": use RFC 3339 with a time zone, such as 2027-01-04T08:00:00Z`},
		{`{reason: x, until: "tomorrow"}`, `fleet.yaml:7: spec.freeze.until: invalid time "tomorrow": use RFC 3339 with a time zone, such as 2027-01-04T08:00:00Z`},
		{`{reason: x, until: 5}`, `fleet.yaml:7: spec.freeze.until: must be a time such as 2027-01-04T08:00:00Z, got an integer`},
		{`{reason: x, untill: 2027-01-04T08:00:00Z}`, `fleet.yaml:7: spec.freeze.untill: unknown field "untill"`},
		{`true`, `fleet.yaml:7: spec.freeze: must be a mapping, got a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.freeze, func(t *testing.T) {
			_, err := Load(mapFS(baseFiles(), map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  freeze: ` + tt.freeze + `
`}))
			if got := errorStrings(err); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("Load problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), tt.want)
			}
		})
	}
}
