package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// testClock is the clock of change control in a test: it stands still at
// the time the test sets, or runs from it at the speed of real time.
type testClock struct {
	mu      sync.Mutex
	at      time.Time // the time shown when set
	setAt   time.Time // real time when it was set
	running bool
}

// Now implements Config.Now.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return c.at
	}
	return c.at.Add(time.Since(c.setAt))
}

// Set shows at from now on, standing still or running.
func (c *testClock) Set(at time.Time, running bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.setAt, c.running = at, time.Now(), running
}

// TestDaemonWakesWhenMaintenanceWindowOpens: a new version pushed outside
// the site's maintenance window is held back (status says until when) while
// a live edit is corrected at once; when the window opens a few seconds
// later, the daemon applies the version by itself: polls and resyncs are an
// hour apart, so only its wake-up at the window's opening can explain it.
func TestDaemonWakesWhenMaintenanceWindowOpens(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	srv := testenv.NewGitServer(t)
	const site = "dm-window"
	seed := t.TempDir()
	writeFleet(t, seed, site, "git_wins")
	writeFile(t, seed, "sites/"+site+"/site.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: `+site+`, labels: {class: prod}}
spec:
  channel: prod
  conflictStrategy: git_wins
  maintenanceWindows: [{schedule: "0 2 * * *", duration: 1h}]
`)
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
	// The first install happens inside the window.
	clk := &testClock{}
	clk.Set(time.Date(2026, 12, 3, 2, 30, 0, 0, time.UTC), false)
	d := New(cl, dyn, cl.RESTMapper(), GitSource{Source: gs}, Config{
		Site: site, Namespace: "syncd-system", Interval: time.Hour, Resync: time.Hour, Now: clk.Now,
		Publisher: status.NewPublisher(gs, site, hclog.NewNullLogger()),
		Log:       hclog.New(&hclog.LoggerOptions{Name: site, Level: hclog.Debug, Output: testLog{t}}),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 60*time.Second, "first sync inside the window", func() bool { l, _ := level(t, cl, site); return l == "info" })

	// The next day, 3 s before the window opens (the clock stands still
	// until the test has seen the hold): version 2.0.0 is pushed.
	clk.Set(time.Date(2026, 12, 4, 1, 59, 57, 0, time.UTC), false)
	work := t.TempDir()
	env := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	if _, err := testenv.RunGit(work, env, "clone", "--quiet", url, "fleet"); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "fleet")
	rel := "products/web/releases/2.0.0/"
	writeFile(t, repo, rel+"kustomization.yaml", "resources: [ns.yaml, cm.yaml]\n")
	writeFile(t, repo, rel+"ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+site+"}\n")
	writeFile(t, repo, rel+"cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n")
	writeFile(t, repo, "channels/web.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {prod: 2.0.0}\n")
	testenv.Git(t, repo, "add", "-A")
	testenv.Git(t, repo, "commit", "--quiet", "-m", "web 2.0.0")
	if _, err := testenv.RunGit(repo, env, "push", "--quiet", "origin", "main"); err != nil {
		t.Fatal(err)
	}
	d.Trigger() // as the Git webhook does

	const want = "2.0.0 held back: waiting for maintenance window, opens 2026-12-04T02:00:00Z"
	store := status.NewStore(cl, "syncd-system", site)
	var web status.ProductStatus
	eventually(t, 60*time.Second, "status says 2.0.0 waits for the window", func() bool {
		st, err := store.Load(context.Background())
		if err != nil || st == nil || len(st.Products) != 1 {
			return false
		}
		web = st.Products[0]
		return web.Note == want
	})
	if web.Version != "1.0.0" {
		t.Fatalf("status while 2.0.0 waits: version %s, want 1.0.0", web.Version)
	}
	// The report in the fleet repo says it too.
	bare := srv.RepoPath("fleet.git")
	eventually(t, 30*time.Second, "report says 2.0.0 waits for the window", func() bool {
		report, err := testenv.RunGit(bare, nil, "show", status.Branch(site)+":"+status.ReportFile)
		return err == nil && strings.Contains(report, want)
	})
	if l, _ := level(t, cl, site); l != "info" {
		t.Fatalf("level = %q while 2.0.0 waits, want 1.0.0's info", l)
	}

	// A live edit during the closed window is corrected at once, to what
	// was applied last (1.0.0), not to the held change.
	var cm corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["level"] = "debug"
	if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 10*time.Second, "live edit corrected in the closed window", func() bool {
		l, _ := level(t, cl, site)
		return l != "debug"
	})
	if l, _ := level(t, cl, site); l != "info" {
		t.Fatalf("live edit corrected to %q, want 1.0.0's info while 2.0.0 waits", l)
	}
	t.Logf("live edit corrected after %s in the closed window", took)

	// The clock runs: the window opens 3 s later and the daemon wakes for it.
	clk.Set(time.Date(2026, 12, 4, 1, 59, 57, 0, time.UTC), true)
	took = eventually(t, 60*time.Second, "2.0.0 applied when the window opened", func() bool {
		l, _ := level(t, cl, site)
		return l == "warn"
	})
	t.Logf("2.0.0 applied %s after the clock started, the window opening 3s in (poll and resync: 1h)", took)
	eventually(t, 10*time.Second, "status says 2.0.0 runs", func() bool {
		st, err := store.Load(context.Background())
		return err == nil && st != nil && len(st.Products) == 1 && st.Products[0].Version == "2.0.0" && st.Products[0].Note == ""
	})
}

// writeFile writes content to name under dir, creating directories.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
