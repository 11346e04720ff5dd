package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// dirSource serves a directory as the fleet repo; bump makes a new "commit".
type dirSource struct {
	dir string
	rev atomic.Int64
}

func (s *dirSource) Fetch(context.Context) (string, bool, error) {
	return fmt.Sprintf("rev%d", s.rev.Load()), false, nil
}

func (s *dirSource) Open(context.Context, string) (fs.FS, error) { return os.DirFS(s.dir), nil }

func writeFleet(t *testing.T, dir, site, strategy string) {
	t.Helper()
	files := map[string]string{
		"fleet.yaml":                                     "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec: {channels: [prod]}\n",
		"sites/" + site + "/site.yaml":                   "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: " + site + ", labels: {class: prod}}\nspec: {channel: prod, conflictStrategy: " + strategy + "}\n",
		"products/web/product.yaml":                      "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: web}\nspec: {targets: \"true\", namespace: " + site + "}\n",
		"channels/web.yaml":                              "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {prod: 1.0.0}\n",
		"products/web/releases/1.0.0/kustomization.yaml": "resources: [ns.yaml, cm.yaml]\n",
		"products/web/releases/1.0.0/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + site + "}\n",
		"products/web/releases/1.0.0/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: info}\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startDaemon runs a daemon for site until the returned stop is called.
func startDaemon(t *testing.T, c *testenv.Cluster, cl client.Client, src Source, site string) (stop func()) {
	t.Helper()
	_, stop = runDaemon(t, c, cl, src, site)
	return stop
}

// runDaemon starts a daemon for site and returns it with its stop.
func runDaemon(t *testing.T, c *testenv.Cluster, cl client.Client, src Source, site string) (*Daemon, func()) {
	t.Helper()
	return runDaemonWith(t, c, cl, src, Config{Site: site, Interval: time.Hour})
}

// runDaemonWith starts a daemon configured by cfg (namespace syncd-system,
// a debug log into the test's) and returns it with its stop.
func runDaemonWith(t *testing.T, c *testenv.Cluster, cl client.Client, src Source, cfg Config) (*Daemon, func()) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Namespace = "syncd-system"
	cfg.Log = hclog.New(&hclog.LoggerOptions{Name: cfg.Site, Level: hclog.Debug, Output: testLog{t}})
	d := New(cl, dyn, cl.RESTMapper(), src, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once atomic.Bool
	stop := func() {
		if once.Swap(true) {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop within 30s of its context ending")
		}
	}
	t.Cleanup(stop)
	return d, stop
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }

func newClient(t *testing.T, c *testenv.Cluster) client.Client {
	t.Helper()
	cl, err := client.New(c.Config, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "syncd-system"}})
	return cl
}

// eventually polls cond every 20ms for up to limit and returns how long it took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, limit)
	return 0
}

func level(t *testing.T, cl client.Client, ns string) (string, bool) {
	var cm corev1.ConfigMap
	err := cl.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm)
	if apierrors.IsNotFound(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["level"], true
}

func TestDaemonCorrectsOutOfBandEditAndDeleteWithoutPolling(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-gitwins"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	startDaemon(t, c, cl, src, site)
	eventually(t, 30*time.Second, "first sync", func() bool { _, ok := level(t, cl, site); return ok })

	// The poll interval is an hour: only the watch can notice these.
	var cm corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["level"] = "debug"
	if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 10*time.Second, "edit corrected", func() bool { l, _ := level(t, cl, site); return l == "info" })
	t.Logf("out-of-band edit corrected after %s", took)

	if err := cl.Delete(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, 10*time.Second, "deleted object recreated", func() bool { _, ok := level(t, cl, site); return ok })
	t.Logf("out-of-band delete recreated after %s", took)
}

func TestDaemonAppliesKeepGitWithinSecondsAndRestartKeepsConflicts(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-manual"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "manual")
	stop := startDaemon(t, c, cl, src, site)
	eventually(t, 30*time.Second, "first sync", func() bool { _, ok := level(t, cl, site); return ok })

	var cm corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["level"] = "debug"
	if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	store := conflict.NewStore(cl, "syncd-system")
	var conflicts []conflict.Conflict
	eventually(t, 10*time.Second, "conflict recorded", func() bool {
		var err error
		conflicts, err = store.List(context.Background(), site)
		// Record creates the object, then sets its status: wait for both.
		return err == nil && len(conflicts) == 1 && conflicts[0].Status.State == conflict.Open
	})

	// Restart in the middle: nothing lost, nothing duplicated.
	stop()
	d, _ := runDaemon(t, c, cl, src, site)
	eventually(t, 30*time.Second, "the first reconcile after the restart", func() bool { return d.state.Load() != nil })
	after, err := store.List(context.Background(), site)
	if err != nil || len(after) != 1 || after[0].Name != conflicts[0].Name || after[0].Status.State != conflict.Open ||
		!after[0].Status.FirstSeen.Equal(&conflicts[0].Status.FirstSeen) {
		t.Fatalf("conflicts after restart = %+v (%v), want the same single open conflict", after, err)
	}
	if l, _ := level(t, cl, site); l != "debug" {
		t.Fatalf("level = %q after restart, want the live value kept while the conflict is open", l)
	}

	if _, err := store.Resolve(context.Background(), conflicts[0].Name, "git", "tester"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 10*time.Second, "--keep git applied", func() bool { l, _ := level(t, cl, site); return l == "info" })
	t.Logf("--keep git applied after %s", took)
	eventually(t, 5*time.Second, "conflict marked resolved", func() bool {
		got, err := store.Get(context.Background(), conflicts[0].Name)
		return err == nil && got.Status.State == conflict.Resolved
	})
}
