package main

import (
	"strings"
	"testing"
	"time"
)

func TestReportChanges(t *testing.T) {
	healthy := product{Version: "1.9.0", Health: "HEALTHY"}
	tests := []struct {
		name       string
		prev, next map[string]siteView
		want       []string
	}{
		{"nothing yet", nil, map[string]siteView{}, nil},
		{"first report",
			nil,
			map[string]siteView{"edge": {"agent": healthy, "auth": {Version: "5.1.1", Health: "PROGRESSING", Note: "Deployment auth/auth: 0/1\n ready"}}},
			[]string{"edge: first status report", "edge: agent 1.9.0 HEALTHY", "edge: auth 5.1.1 PROGRESSING — Deployment auth/auth: 0/1 ready"}},
		{"nothing changed",
			map[string]siteView{"edge": {"agent": healthy}},
			map[string]siteView{"edge": {"agent": healthy}},
			nil},
		{"new version",
			map[string]siteView{"edge": {"agent": healthy}},
			map[string]siteView{"edge": {"agent": {Version: "1.9.1", Health: "PROGRESSING"}}},
			[]string{"edge: agent 1.9.0 → 1.9.1 PROGRESSING"}},
		{"health only",
			map[string]siteView{"edge": {"agent": {Version: "1.9.1", Health: "PROGRESSING"}}},
			map[string]siteView{"edge": {"agent": {Version: "1.9.1", Health: "HEALTHY"}}},
			[]string{"edge: agent 1.9.1 PROGRESSING → HEALTHY"}},
		{"a note appears",
			map[string]siteView{"edge": {"auth": {Version: "5.1.1", Health: "HEALTHY"}}},
			map[string]siteView{"edge": {"auth": {Version: "5.1.1", Health: "HEALTHY", Note: "channel dev says 5.2.0 (recalled); running 5.1.1"}}},
			[]string{"edge: auth 5.1.1 HEALTHY — channel dev says 5.2.0 (recalled); running 5.1.1"}},
		{"a note goes away silently",
			map[string]siteView{"edge": {"auth": {Version: "5.1.1", Health: "HEALTHY", Note: "x"}}},
			map[string]siteView{"edge": {"auth": {Version: "5.1.1", Health: "HEALTHY"}}},
			nil},
		{"removed product and site, sites in order",
			map[string]siteView{"b": {"agent": healthy, "auth": healthy}, "gone": {"agent": healthy}},
			map[string]siteView{"b": {"agent": healthy}, "a": {}},
			[]string{"a: first status report", "b: auth removed", "gone: status report gone"}},
		{"not deployed",
			nil,
			map[string]siteView{"edge": {"widget": {Health: "UNKNOWN"}}},
			[]string{"edge: first status report", "edge: widget <none> UNKNOWN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reportChanges(tt.prev, tt.next)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("reportChanges =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestBranchChanges(t *testing.T) {
	prev := map[string]string{"main": "aaaaaaaaaa", "feature": "bbbbbbbbbb", "old": "cccccccccc"}
	next := map[string]string{"main": "dddddddddd", "feature": "eeeeeeeeee", "promote/agent/prod/1.9.1": "ffffffffff"}
	want := []string{
		"branch feature moved to eeeeeee",
		"branch promote/agent/prod/1.9.1 created at fffffff (a promotion waiting for a person to merge it: approval: pull-request)",
		"branch old deleted",
	}
	if got := branchChanges(prev, next, "main"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("branchChanges =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Minute: "1m", 90 * time.Second: "1m30s", 30 * time.Second: "30s", time.Hour: "1h", 2*time.Hour + 30*time.Minute: "2h30m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
