package status

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// pushByHand pushes a single commit holding files to branch, as a person
// (or an older syncd) might.
func (f *gitFixture) pushByHand(branch string, files map[string]string) {
	f.t.Helper()
	work := f.t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	env := []string{"GIT_SSH_COMMAND=" + f.srv.GitSSHCommand(f.srv.DeployKey.PrivatePath)}
	for _, args := range [][]string{
		{"init", "--quiet"}, {"add", "-A"}, {"commit", "--quiet", "-m", "by hand"},
		{"push", "--quiet", f.url, "HEAD:refs/heads/" + branch},
	} {
		if _, err := testenv.RunGit(work, env, args...); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestReadReports(t *testing.T) {
	ctx := context.Background()
	f := newGitFixture(t)
	eu1 := sampleStatus(t1)
	publish(t, NewPublisher(f.source(), "eu-1", nil), eu1, true)
	f.pushByHand(Branch("old-1"), map[string]string{ReportFile: v1Report})                            // version 1, of site eu-1
	f.pushByHand(Branch("broken"), map[string]string{ReportFile: "apiVersion: syncd.dev/v1alpha1\n"}) // not a report
	f.pushByHand(Branch("empty"), map[string]string{"notes.txt": "hi\n"})                             // no report at all
	f.pushByHand(Branch("future"), map[string]string{ReportFile: strings.Replace(v1Report,
		"site: eu-1\n", "formatVersion: 9\nsite: future\n", 1)})

	src := f.source()
	before := src.Sessions()
	reports, unreadable, err := ReadReports(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if n := src.Sessions() - before; n != 1 {
		t.Errorf("ReadReports used %d round trips, want 1", n)
	}
	if len(reports) != 1 || reports["eu-1"] == nil || reports["eu-1"].FormatVersion != ReportFormatVersion ||
		len(reports["eu-1"].Products) != len(eu1.Products) {
		t.Fatalf("reports = %v", reports)
	}
	var sites []string
	for site := range unreadable {
		sites = append(sites, site)
	}
	slices.Sort(sites)
	if want := []string{"broken", "empty", "future", "old-1"}; !slices.Equal(sites, want) {
		t.Fatalf("unreadable sites %v, want %v (%v)", sites, want, unreadable)
	}
	for site, want := range map[string]string{
		"broken": "branch syncd/status/broken: status.yaml: decoding status report",
		"empty":  "branch syncd/status/empty:",
		"future": "format version 9 is newer",
		"old-1":  `the report is of site "eu-1"`,
	} {
		if got := unreadable[site].Error(); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want it to contain %q", site, got, want)
		}
	}
}
