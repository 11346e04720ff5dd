package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestFleetStatusOverSSH serves the example fleet repo from a real sshd with
// one site's report published and another site's report unreadable.
func TestFleetStatusOverSSH(t *testing.T) {
	srv := testenv.NewGitServer(t)
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", exampleCopy(t))
	src, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath,
		KnownHostsFile: srv.KnownHosts, CacheDir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st := &status.SiteStatus{Site: "eu-1", Revision: "abc", UpdatedAt: now, Products: []status.ProductStatus{
		{Name: "web", Version: "9.9.9", Health: health.Error, Since: now, VersionSince: now, Drift: 3, Conflicts: 1},
	}}
	if ok, err := status.NewPublisher(src, "eu-1", nil).Publish(context.Background(), st); err != nil || !ok {
		t.Fatalf("publishing: %v %v", ok, err)
	}
	if _, err := src.Commit(context.Background(), gitsource.CommitRequest{Branch: status.Branch("bad"), Force: true, Message: "junk",
		Change: func(w *gitsource.WorkTree) error { return w.WriteFile(status.ReportFile, []byte("nonsense: [")) }}); err != nil {
		t.Fatal(err)
	}
	args := []string{"fleet", "status", "--repo", url, "--identity", srv.DeployKey.PrivatePath,
		"--known-hosts", srv.KnownHosts, "--cache-dir", t.TempDir()}
	res := runSyncd(t, args...)
	if res.code != 0 || !strings.Contains(res.stderr, "report of site bad skipped") {
		t.Fatalf("fleet status:\n%s", res)
	}
	var row string
	for _, line := range strings.Split(res.stdout, "\n") {
		if strings.Contains(line, " eu-1 ") {
			row = strings.Join(strings.Fields(line), " ")
		}
	}
	if !strings.HasPrefix(row, "web ") || !strings.Contains(row, "eu-1 9.9.9 ERROR 3 1 ") {
		t.Fatalf("row of eu-1 %q in:\n%s", row, res)
	}
	if res := runSyncd(t, append(args, "-o", "json")...); res.code != 0 || !strings.Contains(res.stdout, `"site": "eu-1"`) {
		t.Fatalf("fleet status -o json:\n%s", res)
	}
}
