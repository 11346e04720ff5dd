package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestPromoteOnceOverSSH(t *testing.T) {
	srv := testenv.NewGitServer(t)
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", filepath.Join("..", "..", "examples", "fleet-repo"))
	bare := srv.RepoPath("fleet.git")
	head := testenv.Git(t, bare, "rev-parse", "main")

	// A report that cannot be read is named and skipped.
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "status.yaml"), []byte("site: [broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, work, "init", "--quiet", "--initial-branch=syncd/status/edge-store-042")
	testenv.Git(t, work, "add", "-A")
	testenv.Git(t, work, "commit", "--quiet", "-m", "broken report")
	if _, err := testenv.RunGit(work, []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}, "push", "--quiet", url, "syncd/status/edge-store-042"); err != nil {
		t.Fatal(err)
	}

	args := []string{"promote", "--once", "--dry-run", "-o", "json", "--repo", url, "--identity", srv.DeployKey.PrivatePath,
		"--known-hosts", srv.KnownHosts, "--cache-dir", t.TempDir()}
	r := runSyncd(t, args...)
	if r.code != 0 {
		t.Fatalf("promote --once --dry-run: %s", r)
	}
	if !strings.Contains(r.stderr, "edge-store-042") {
		t.Errorf("the unreadable report is not named on stderr:\n%s", r.stderr)
	}
	var ds []promote.Decision
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	products := map[string]bool{}
	for _, d := range ds {
		if d.Product == "" || d.Decision == "" || d.Reason == "" || d.From == "" || d.To == "" {
			t.Errorf("incomplete decision %+v", d)
		}
		products[d.Product] = true
	}
	for _, p := range []string{"auth-service", "ingest-pipeline", "telemetry-agent", "widget-operator"} {
		if !products[p] {
			t.Errorf("no decision for %s", p)
		}
	}
	if got := testenv.Git(t, bare, "rev-parse", "main"); got != head {
		t.Fatal("--dry-run committed")
	}

	r = runSyncd(t, append([]string{"promote", "--once", "--dry-run"}, args[5:]...)...) // the table
	if r.code != 0 || !strings.Contains(r.stdout, "PRODUCT") || !strings.Contains(r.stdout, "auth-service") {
		t.Fatalf("promote --once --dry-run (table): %s", r)
	}
	if r := runSyncd(t, "promote", "--once", "-o", "yaml", "--repo", url); r.code != 2 {
		t.Errorf("-o yaml: %s; want exit 2", r)
	}
}
