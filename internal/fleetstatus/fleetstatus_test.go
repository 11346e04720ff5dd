package fleetstatus

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sample() View {
	score := 50
	reports := map[string]*status.Report{
		"eu-1": {Site: "eu-1", Revision: "0123456789abcdef0123456789abcdef01234567", RefreshedAt: now.Add(-2 * time.Minute),
			Commits:    &status.Commits{Verified: "aaaa", Head: "bbbb", Refused: "not signed by an allowed signer"},
			Compliance: &status.Compliance{Score: &score, Applicable: 2, Met: 1}, Products: []status.ReportProduct{
				{Name: "web", Version: "1.2.0", Health: health.Healthy},
				{Name: "db", Version: "14.2", Health: health.Error, Drift: 1, Conflicts: 2, Note: "dry-run failed"},
			}},
		"us-1": {Site: "us-1", RefreshedAt: now.Add(-time.Hour), Products: []status.ReportProduct{
			{Name: "web", Version: "1.1.0", Health: health.Healthy},
		}},
		"old-1": {Site: "old-1", Products: []status.ReportProduct{{Name: "web", Version: "1.0.0", Health: health.Progressing}}},
	}
	unreadable := map[string]error{"broken": errors.New("branch syncd/status/broken: status.yaml: decoding status report: no site")}
	channels := map[string]map[string]string{
		"web": {"dev": "1.2.0", "staging": "1.2.0", "prod": "1.1.0"},
		"api": {"dev": "0.1.0"},
	}
	return Build(reports, unreadable, map[string]bool{"us-1": true}, channels, now, 0)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample(), []string{"dev", "staging", "prod"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", b.Bytes())
}

func TestBuildJSON(t *testing.T) {
	data, err := json.MarshalIndent(sample(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "view.json.golden", append(data, '\n'))
}

func TestStaleReportIsUnknown(t *testing.T) {
	v := sample()
	for _, p := range v.Products {
		for _, s := range p.Sites {
			if s.Site == "us-1" && (!s.Stale || s.Health != health.Unknown) {
				t.Fatalf("an hour-old report: %+v, want stale and UNKNOWN", s)
			}
			if s.Site == "eu-1" && s.Stale {
				t.Fatalf("a fresh report is stale: %+v", s)
			}
			if s.Unsigned != (s.Site == "us-1") {
				t.Fatalf("site %s: unsigned = %v, want %v", s.Site, s.Unsigned, s.Site == "us-1")
			}
		}
	}
}
