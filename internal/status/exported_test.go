package status

import (
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func TestCheckExported(t *testing.T) {
	report := func(site string) []byte {
		data, err := NewReport(&SiteStatus{Site: site, Revision: "abc", UpdatedAt: time.Now()}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	unsignedOK := &ReportTrust{}
	for _, tc := range []struct {
		name    string
		branch  string
		parents []plumbing.Hash
		files   map[string][]byte
		trust   *ReportTrust
		want    string
	}{
		{"ok", "syncd/status/s1", nil, map[string][]byte{ReportFile: report("s1")}, unsignedOK, ""},
		{"not a status branch", "main", nil, map[string][]byte{ReportFile: report("s1")}, unsignedOK, "not a status branch"},
		{"nested", "syncd/status/a/b", nil, map[string][]byte{ReportFile: report("a/b")}, unsignedOK, "not a status branch"},
		{"parents", "syncd/status/s1", []plumbing.Hash{plumbing.ZeroHash}, map[string][]byte{ReportFile: report("s1")}, unsignedOK, "has parents"},
		{"stray file", "syncd/status/s1", nil, map[string][]byte{ReportFile: report("s1"), "x": {}}, unsignedOK, "status.yaml, x, want status.yaml alone"},
		{"other site", "syncd/status/s1", nil, map[string][]byte{ReportFile: report("s2")}, unsignedOK, `report of site "s2"`},
		{"bad report", "syncd/status/s1", nil, map[string][]byte{ReportFile: []byte("kind: x\n")}, unsignedOK, "decoding status report"},
		{"unsigned but required", "syncd/status/s1", nil, map[string][]byte{ReportFile: report("s1")}, &ReportTrust{RequireSigned: true}, "requireSigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &object.Commit{ParentHashes: tc.parents}
			r, signed, err := CheckExported(tc.branch, c, tc.files, tc.trust)
			if tc.want == "" {
				if err != nil || r == nil || signed {
					t.Fatalf("got %v %v %v", r, signed, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSupersedes(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := func(t time.Time) *Report { return &Report{Site: "s1", RefreshedAt: t} }
	for _, tc := range []struct {
		name       string
		next, prev *Report
		ok         bool
	}{
		{"nothing published", r(at), nil, true},
		{"newer", r(at.Add(time.Minute)), r(at), true},
		{"same time", r(at), r(at), true},
		{"older", r(at), r(at.Add(time.Minute)), false},
	} {
		if err := Supersedes(tc.next, tc.prev); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
