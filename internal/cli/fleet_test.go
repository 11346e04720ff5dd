package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/fleetdiff"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestFleetDiffGolden commits one change to a copy of the example fleet
// and compares the commit with its parent.
// shortSHAs matches the 12-digit commit hashes fleet diff prints.
var shortSHAs = regexp.MustCompile(`\b[0-9a-f]{12}\b`)

func TestFleetDiffGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(g *gitFleet)
		args   []string
		code   int
		sites  []string // the sites the change reaches
	}{{
		name:   "channel-bump",
		change: func(g *gitFleet) { g.edit("channels/ingest-pipeline.yaml", "prod: 2.3.1", "prod: 2.4.0") },
		args:   []string{"--diff"},
		code:   ExitDiff,
		sites:  []string{"aws-us-east-1-prod", "aws-us-west-2-prod", "onprem-dc1-prod"},
	}, {
		name: "site-label",
		change: func(g *gitFleet) {
			g.edit("sites/aws-us-west-2-prod/site.yaml", "    type: cloud\n", "    type: cloud\n    widgets: enabled\n")
			g.edit("sites/gcp-eu-west-1-staging/site.yaml", "    widgets: enabled\n", "")
		},
		args:  []string{"-o", "markdown"},
		code:  ExitDiff,
		sites: []string{"aws-us-west-2-prod", "gcp-eu-west-1-staging"},
	}, {
		name: "release-edit",
		change: func(g *gitFleet) {
			g.edit("products/auth-service/releases/5.1.0/configmap.yaml", "TOKEN_TTL: 15m", "TOKEN_TTL: 10m")
		},
		args:  []string{"--diff"},
		code:  ExitDiff,
		sites: []string{"airgap-enclave-7", "aws-us-east-1-prod", "aws-us-west-2-prod", "edge-store-042", "onprem-dc1-prod"},
	}, {
		name: "recall",
		change: func(g *gitFleet) {
			g.edit("products/ingest-pipeline/releases/2.4.0/release.yaml", "recalled: false\n  reason: \"\"", "recalled: true\n  reason: \"error rate above 5% at gcp-eu-west-1-staging\"")
		},
		code:  ExitDiff,
		sites: []string{"gcp-eu-west-1-staging"},
	}, {
		name: "broken-file",
		change: func(g *gitFleet) {
			g.edit("sites/onprem-dc1-prod/site.yaml", "channel: prod", "channel: prod\n  chanel: dev")
		},
		code:  ExitError,
		sites: []string{"onprem-dc1-prod"},
	}, {
		name:   "nothing",
		change: func(g *gitFleet) { g.write("README.md", "a file no site reads\n") },
		code:   ExitOK,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGitFleet(t)
			tc.change(g)
			g.commit(tc.name)
			res := runSyncd(t, append([]string{"fleet", "diff", "HEAD~1", "HEAD", "--repo-dir", g.dir}, tc.args...)...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d: %v", res.code, tc.code, res)
			}
			// Commit hashes follow examples/fleet-repo's content: the
			// golden files name them as <sha>.
			checkGolden(t, "fleet-diff-"+tc.name+".txt", shortSHAs.ReplaceAllString(res.stdout, "<sha>"))
			// The same comparison as JSON names exactly the sites reached.
			js := runSyncd(t, "fleet", "diff", "HEAD~1", "HEAD", "--repo-dir", g.dir, "-o", "json")
			var report fleetdiff.Report
			if err := json.Unmarshal([]byte(js.stdout), &report); err != nil {
				t.Fatalf("-o json: %v\n%s", err, js.stdout)
			}
			var sites []string
			for _, s := range report.Sites {
				sites = append(sites, s.Site)
			}
			if strings.Join(sites, ",") != strings.Join(tc.sites, ",") {
				t.Errorf("sites changed = %v, want %v", sites, tc.sites)
			}
			if report.Untouched+len(sites) != 6 && tc.code != ExitError {
				t.Errorf("untouched = %d, want %d", report.Untouched, 6-len(sites))
			}
		})
	}
}

func TestFleetDiffBrokenFileNamesIt(t *testing.T) {
	g := newGitFleet(t)
	g.edit("products/telemetry-agent/product.yaml", "namespace: telemetry", "namespace: telemetry\n  nameSpace: x")
	g.commit("typo")
	res := runSyncd(t, "fleet", "diff", "HEAD~1", "HEAD", "--repo-dir", g.dir)
	if res.code != ExitError {
		t.Fatalf("exit %d, want 2: %v", res.code, res)
	}
	const want = `products/telemetry-agent/product.yaml:11: spec.nameSpace: unknown field "nameSpace"`
	if !strings.Contains(res.stderr, want) || !strings.Contains(res.stdout, want) {
		t.Fatalf("the problem is not named as %q: %v", want, res)
	}
}

// TestFleetDiffFromSubdirectory reads the fleet repo from a directory
// inside a larger checkout, and revisions by branch name.
func TestFleetDiffFromSubdirectory(t *testing.T) {
	g := &gitFleet{t: t, dir: t.TempDir()}
	g.git("init", "--quiet", "--initial-branch=main")
	g.write("README.md", "monorepo\n")
	if err := os.CopyFS(filepath.Join(g.dir, "deploy", "fleet"), os.DirFS(exampleFleet)); err != nil {
		t.Fatal(err)
	}
	g.commit("fleet")
	g.git("checkout", "--quiet", "-b", "bump")
	g.edit("deploy/fleet/channels/telemetry-agent.yaml", "prod: 1.8.2", "prod: 1.9.0")
	g.commit("bump telemetry-agent")
	res := runSyncd(t, "fleet", "diff", "main", "bump", "--repo-dir", filepath.Join(g.dir, "deploy", "fleet"))
	if res.code != ExitDiff || !strings.Contains(res.stdout, "telemetry-agent") {
		t.Fatalf("diff main bump: %v", res)
	}
}

func TestFleetDiffUsageErrors(t *testing.T) {
	g := newGitFleet(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one revision", []string{"fleet", "diff", "HEAD", "--repo-dir", g.dir}, "accepts 2 arg(s)"},
		{"unknown revision", []string{"fleet", "diff", "HEAD", "nope", "--repo-dir", g.dir}, `revision "nope"`},
		{"not a checkout", []string{"fleet", "diff", "HEAD~1", "HEAD", "--repo-dir", t.TempDir()}, "not inside a Git checkout"},
		{"bad format", []string{"fleet", "diff", "HEAD", "HEAD", "--repo-dir", g.dir, "-o", "yaml"}, "want one of table, markdown, json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, tc.args...)
			if res.code != ExitError || !strings.Contains(res.stderr, tc.want) {
				t.Fatalf("want exit 2 and %q: %v", tc.want, res)
			}
		})
	}
}

// TestFleetDiffOverSSH fetches both revisions from an sshd-served repo.
func TestFleetDiffOverSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd")
	}
	srv, err := testenv.StartGitServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		t.Fatal(err)
	}
	g := newGitFleet(t)
	g.git("checkout", "--quiet", "-b", "bump")
	g.edit("channels/ingest-pipeline.yaml", "prod: 2.3.1", "prod: 2.4.0")
	g.commit("bump")
	push := func(branch string) {
		t.Helper()
		g.gitEnv([]string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}, "push", "--quiet", srv.URL("fleet.git"), branch)
	}
	push("main")
	push("bump")
	res := runSyncd(t, "fleet", "diff", "main", "bump", "--repo", srv.URL("fleet.git"),
		"--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts, "--cache-dir", t.TempDir(), "-o", "json")
	if res.code != ExitDiff {
		t.Fatalf("fleet diff over SSH: %v", res)
	}
	var report fleetdiff.Report
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Sites) != 3 || report.Untouched != 3 {
		t.Fatalf("report: %+v", report)
	}
	// A hash of the tracked branch works too.
	sha := g.git("rev-parse", "main")
	res = runSyncd(t, "fleet", "diff", sha, "main", "--repo", srv.URL("fleet.git"),
		"--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts, "--cache-dir", t.TempDir())
	if res.code != ExitOK {
		t.Fatalf("fleet diff of a hash and its branch: %v", res)
	}
}
