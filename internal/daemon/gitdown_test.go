package daemon

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/client-go/dynamic"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestDaemonRidesOutGitServerOutage(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	srv := testenv.NewGitServer(t)
	const site = "dm-gitdown"
	seed := t.TempDir()
	writeFleet(t, seed, site, "git_wins")
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", seed)
	gs, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath, KnownHostsFile: srv.KnownHosts,
		CacheDir: t.TempDir(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := New(cl, dyn, cl.RESTMapper(), GitSource{Source: gs}, Config{Site: site, Namespace: "syncd-system", Interval: 200 * time.Millisecond,
		Publisher: status.NewPublisher(gs, site, hclog.NewNullLogger()),
		Log:       hclog.New(&hclog.LoggerOptions{Output: testLog{t}})})
	h := httptest.NewServer(d.Handler(""))
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 30*time.Second, "first sync over SSH", func() bool { l, _ := level(t, cl, site); return l == "info" })

	// The status report: a single-commit branch, in the cluster too, written
	// once per change and not on every poll.
	bare := srv.RepoPath("fleet.git")
	branch := status.Branch(site)
	statusHead := func() string {
		out, err := testenv.RunGit(bare, nil, "rev-parse", "--verify", "--quiet", branch)
		if err != nil {
			return ""
		}
		return out
	}
	eventually(t, 30*time.Second, "status branch published", func() bool { return statusHead() != "" })
	first := statusHead()
	// The push is on /metrics, for the stale-report alert.
	pushedAt, err := strconv.ParseFloat(testenv.Git(t, bare, "log", "-1", "--format=%ct", branch), 64)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "report push recorded on /metrics", func() bool {
		v, ok := value(scrape(t, h.URL), "syncd_status_report_published_timestamp_seconds", map[string]string{"site": site})
		return ok && v >= pushedAt
	})
	fetches := func() float64 { v, _ := value(scrape(t, h.URL), "syncd_git_fetch_duration_seconds", nil); return v }
	polled := fetches()
	eventually(t, 30*time.Second, "ten more polls", func() bool { return fetches() >= polled+10 })
	if got := statusHead(); got != first {
		t.Fatalf("status branch moved from %s to %s without any change", first, got)
	}
	if n := testenv.Git(t, bare, "rev-list", "--count", branch); n != "1" {
		t.Fatalf("status branch has %s commits, want 1", n)
	}
	if report := testenv.Git(t, bare, "show", branch+":"+status.ReportFile); !strings.Contains(report, "web") || !strings.Contains(report, "HEALTHY") {
		t.Fatalf("status report:\n%s", report)
	}
	saved, err := status.NewStore(cl, "syncd-system", site).Load(context.Background())
	if err != nil || saved == nil || len(saved.Products) != 1 {
		t.Fatalf("status in the cluster = %+v, %v", saved, err)
	}

	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "degraded while the Git server is down", func() bool {
		code, body := get(t, h.URL+"/readyz")
		return code == 200 && strings.HasPrefix(body, "degraded:") && strings.Contains(body, "fetching the fleet repo")
	})
	if v, _ := value(scrape(t, h.URL), "syncd_git_fetch_errors_total", nil); v < 1 {
		t.Fatalf("syncd_git_fetch_errors_total = %v, want >= 1", v)
	}
	if l, ok := level(t, cl, site); !ok || l != "info" {
		t.Fatalf("during the outage: ConfigMap present %v level %q, want the cluster left as it was", ok, l)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	env := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	if _, err := testenv.RunGit(work, env, "clone", "--quiet", url, "fleet"); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "fleet")
	if err := os.WriteFile(filepath.Join(repo, "products/web/releases/1.0.0/cm.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, repo, "commit", "--quiet", "-am", "warn")
	if _, err := testenv.RunGit(repo, env, "push", "--quiet", "origin", "main"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "recovered and applied the new commit", func() bool {
		l, _ := level(t, cl, site)
		code, body := get(t, h.URL+"/readyz")
		return l == "warn" && code == 200 && strings.HasPrefix(body, "ok:")
	})
	eventually(t, 30*time.Second, "status report updated for the new revision", func() bool {
		h := statusHead()
		return h != "" && h != first && testenv.Git(t, bare, "rev-list", "--count", branch) == "1"
	})
}
