package fleet

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func fleetWithReports(reports string) map[string]string {
	doc := `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
`
	if reports != "" {
		doc += "  reports: " + reports + "\n"
	}
	return map[string]string{"fleet.yaml": doc}
}

func TestLoadFleetReports(t *testing.T) {
	tests := []struct {
		reports           string
		refresh, staleAft time.Duration
	}{
		{"", DefaultReportRefresh, DefaultReportStaleAfter},
		{"{refresh: 1m}", time.Minute, DefaultReportStaleAfter},
		{"{refresh: 30s, staleAfter: 2m}", 30 * time.Second, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.reports, func(t *testing.T) {
			r := mustLoad(t, mapFS(baseFiles(), fleetWithReports(tt.reports))).Fleet.Spec.Reports
			if r.Refresh.Duration != tt.refresh || r.StaleAfter.Duration != tt.staleAft {
				t.Fatalf("Reports = %s/%s, want %s/%s", r.Refresh, r.StaleAfter, tt.refresh, tt.staleAft)
			}
		})
	}
}

func TestLoadFleetReportsProblems(t *testing.T) {
	tests := []struct{ reports, want string }{
		{`{refresh: 20m}`, `fleet.yaml:7: spec.reports.staleAfter: must be longer than refresh (20m0s), got 15m0s: every site would look stale between refreshes`},
		{`{refresh: 10ms}`, `fleet.yaml:7: spec.reports.refresh: must be at least 1s, got 10ms`},
		{`{refresh: soon}`, `fleet.yaml:7: spec.reports.refresh: invalid duration "soon": use a number with unit h, m or s, such as 30m or 1h30m`},
		{`{stale: 1h}`, `fleet.yaml:7: spec.reports.stale: unknown field "stale"`},
	}
	for _, tt := range tests {
		t.Run(tt.reports, func(t *testing.T) {
			_, err := Load(mapFS(baseFiles(), fleetWithReports(tt.reports)))
			if got := errorStrings(err); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("Load problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), tt.want)
			}
		})
	}
}
