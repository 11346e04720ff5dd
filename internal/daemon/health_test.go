package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/client-go/dynamic"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// gadgetGroup is the API group of this package's Gadgets (testenv.CRD).
const gadgetGroup = "hd.example.com"

// writeGadgetFleet writes a fleet whose one product is a Gadget (with its
// CRD) and whose reports are refreshed every refresh.
func writeGadgetFleet(t *testing.T, dir, site, refresh string) {
	t.Helper()
	rel := "products/gadget/releases/1.0.0/"
	files := map[string]string{
		"fleet.yaml":                   "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec: {channels: [prod], reports: {refresh: " + refresh + ", staleAfter: 1m}}\n",
		"sites/" + site + "/site.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: " + site + "}\nspec: {channel: prod}\n",
		"products/gadget/product.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: gadget}\nspec: {targets: \"true\", namespace: " + site + "}\n",
		"channels/gadget.yaml":         "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: gadget}\nspec: {prod: 1.0.0}\n",
		rel + "kustomization.yaml":     "resources: [crd.yaml, ns.yaml, gadget.yaml]\n",
		rel + "crd.yaml":               testenv.CRD(gadgetGroup, "Gadget"),
		rel + "ns.yaml":                "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + site + "}\n",
		rel + "gadget.yaml":            "apiVersion: hd.example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 1}\n",
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

// TestDaemonPublishesHealthChangesAndRefreshesLiveness checks SPEC §4 between
// full reconciles (the poll finds no new commit, the resync is an hour
// away): an idle site's report has its liveness time refreshed at
// spec.reports.refresh and nothing else; a custom resource that an admin
// marks Stalled=True after it was applied makes the report say ERROR, and
// healthy again when it recovers.
func TestDaemonPublishesHealthChangesAndRefreshesLiveness(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	srv := testenv.NewGitServer(t)
	const site = "dm-health"
	seed := t.TempDir()
	writeGadgetFleet(t, seed, site, "2s")
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", seed)
	gs, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath, KnownHostsFile: srv.KnownHosts,
		CacheDir: t.TempDir(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	const interval = time.Second
	d := New(cl, dyn, cl.RESTMapper(), GitSource{Source: gs}, Config{Site: site, Namespace: "syncd-system",
		Interval: interval, Resync: time.Hour,
		Publisher: status.NewPublisher(gs, site, hclog.NewNullLogger()),
		Log:       hclog.New(&hclog.LoggerOptions{Output: testLog{t}, Level: hclog.Debug})})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	bare := srv.RepoPath("fleet.git")
	mainHead := testenv.Git(t, bare, "rev-parse", "main")
	branch := status.Branch(site)
	report := func() *status.Report {
		out, err := testenv.RunGit(bare, nil, "show", branch+":"+status.ReportFile)
		if err != nil {
			return nil
		}
		r, err := status.ParseReport([]byte(out))
		if err != nil {
			t.Fatalf("report on %s: %v\n%s", branch, err, out)
		}
		return r
	}
	gadget := func(r *status.Report) status.ReportProduct {
		if r != nil {
			for _, p := range r.Products {
				if p.Name == "gadget" {
					return p
				}
			}
		}
		return status.ReportProduct{}
	}
	var r *status.Report
	eventually(t, 120*time.Second, "report with a HEALTHY gadget", func() bool {
		r = report()
		return gadget(r).Health == health.Healthy
	})

	// Idle: only the liveness time moves, once per refresh interval.
	refreshed := []time.Time{r.RefreshedAt}
	for len(refreshed) < 2 {
		eventually(t, 90*time.Second, "liveness refreshed", func() bool {
			r = report()
			return r != nil && r.RefreshedAt.After(refreshed[len(refreshed)-1])
		})
		if p := gadget(r); p.Health != health.Healthy || len(p.Intervals) != 1 {
			t.Fatalf("idle refresh changed the product: %+v", p)
		}
		refreshed = append(refreshed, r.RefreshedAt)
	}
	for i := 1; i < len(refreshed); i++ {
		if step := refreshed[i].Sub(refreshed[i-1]); step < 2*time.Second {
			t.Errorf("liveness refreshed after %s, want no more often than spec.reports.refresh (2s): %v", step, refreshed)
		}
	}

	// Broken after it was applied: the report says ERROR with no commit and
	// long before the resync.
	start := time.Now()
	testenv.SetGadgetStalled(t, cl, gadgetGroup, site, "g", "True", "gadget broke after it was applied")
	eventually(t, 90*time.Second, "report says ERROR", func() bool {
		r = report()
		return gadget(r).Health == health.Error
	})
	took := time.Since(start)
	t.Logf("Stalled=True reached the status branch after %s (poll interval %s)", took.Round(time.Millisecond), interval)
	if p := gadget(r); p.Note == "" || len(p.Transitions) == 0 || p.Transitions[len(p.Transitions)-1].To != health.Error {
		t.Errorf("ERROR report: %+v, want a note and the transition", p)
	}
	if got := testenv.Git(t, bare, "rev-parse", "main"); got != mainHead {
		t.Fatalf("main moved from %s to %s", mainHead, got)
	}
	if n := testenv.Git(t, bare, "rev-list", "--count", branch); n != "1" {
		t.Fatalf("status branch has %s commits, want 1", n)
	}
	saved, err := status.NewStore(cl, "syncd-system", site).Load(context.Background())
	if err != nil || saved == nil || len(saved.Products) != 1 || saved.Products[0].Health != health.Error {
		t.Fatalf("status in the cluster = %+v, %v; want the gadget ERROR", saved, err)
	}

	testenv.SetGadgetStalled(t, cl, gadgetGroup, site, "g", "False", "gadget broke after it was applied")
	eventually(t, 90*time.Second, "report says HEALTHY again", func() bool {
		r = report()
		return gadget(r).Health == health.Healthy
	})
	if p := gadget(r); p.Note != "" || len(p.Intervals) != 3 {
		t.Errorf("recovered report: %+v, want no note and three intervals (HEALTHY, ERROR, HEALTHY)", p)
	}
}
