package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/gate"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// history is a fleet fixture's commits: a History for tests.
type history struct {
	commits []commit // oldest first
}

type commit struct {
	rev  string
	at   time.Time
	tree fstest.MapFS
}

// commit records the fixture's files as a new revision made at at.
func (h *history) commit(t *testing.T, f *fleetFixture, at time.Time) string {
	t.Helper()
	tree := fstest.MapFS{}
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		tree[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rev := fmt.Sprintf("%040x", len(h.commits)+1)
	h.commits = append(h.commits, commit{rev: rev, at: at, tree: tree})
	return rev
}

func (h *history) index(rev string) int {
	for i, c := range h.commits {
		if c.rev == rev {
			return i
		}
	}
	return -1
}

func (h *history) Open(_ context.Context, rev string) (fs.FS, error) {
	if i := h.index(rev); i >= 0 {
		return h.commits[i].tree, nil
	}
	return nil, fmt.Errorf("no revision %s", rev)
}

// FileHistory groups the commits by the content of file, as gitsource does.
func (h *history) FileHistory(_ context.Context, rev, file string, _ int) ([]gitsource.FileRevision, error) {
	var out []gitsource.FileRevision
	for i := h.index(rev); i >= 0; i-- {
		f, ok := h.commits[i].tree[file]
		if !ok {
			break
		}
		if n := len(out); n > 0 && bytes.Equal(out[n-1].Data, f.Data) {
			out[n-1].Commit, out[n-1].Time = h.commits[i].rev, h.commits[i].at
			continue
		}
		out = append(out, gitsource.FileRevision{Commit: h.commits[i].rev, Time: h.commits[i].at, Data: f.Data})
	}
	return out, nil
}

// clock is a settable time for change control.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// gatedSync commits the fixture at the clock's time, plans it with change
// control and syncs it.
func gatedSync(t *testing.T, r *Reconciler, f *fleetFixture, h *history, clk *clock) *Report {
	t.Helper()
	rev := h.commit(t, f, clk.now)
	fsys, _ := h.Open(context.Background(), rev)
	plan, err := r.Plan(context.Background(), fsys, rev, h)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return syncOnce(t, r, plan)
}

func gatedReconciler(t *testing.T, site string, clk *clock) *Reconciler {
	t.Helper()
	r := newTestReconciler(t, sharedCluster(t), site)
	r.cfg.Now = clk.Now
	return r
}

func image(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	var dep appsv1.Deployment
	if !exists(t, c, &dep, ns, name) {
		t.Fatalf("Deployment %s/%s missing", ns, name)
	}
	return dep.Spec.Template.Spec.Containers[0].Image
}

// editConfigMap changes the product's ConfigMap behind syncd's back.
func editConfigMap(t *testing.T, c client.Client, ns, name string) {
	t.Helper()
	var cm corev1.ConfigMap
	if !exists(t, c, &cm, ns, name) {
		t.Fatalf("ConfigMap %s/%s missing", ns, name)
	}
	cm.Data["level"] = "debug"
	if err := c.Update(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
}

func configLevel(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	var cm corev1.ConfigMap
	if !exists(t, c, &cm, ns, name) {
		return ""
	}
	return cm.Data["level"]
}

func siteWith(name, spec string) string {
	return `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: ` + name + `, labels: {class: prod}}
spec:
  channel: prod
` + spec
}

func TestGatedMaintenanceWindow(t *testing.T) {
	const site, ns = "window", "gw-web"
	clk := &clock{now: time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)}
	r := gatedReconciler(t, site, clk)
	f := newFleetFixture(t, site)
	f.write("sites/"+site+"/site.yaml", siteWith(site, `  maintenanceWindows: [{schedule: "0 2 * * *", duration: 1h}]
`))
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	h := &history{}

	// A first install waits for the window too.
	rep := gatedSync(t, r, f, h, clk)
	want := "1.0.0 held back: waiting for maintenance window, opens 2026-12-03T02:00:00Z"
	if got := result(t, rep, "web"); got.Err != nil || got.Note != want || got.Created != 0 || got.Waiting == nil ||
		!got.Waiting.Hold.Until.Equal(time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("install outside the window: %+v, want %q and nothing created", got, want)
	}
	clk.now = time.Date(2026, 12, 3, 2, 30, 0, 0, time.UTC)
	if got := result(t, gatedSync(t, r, f, h, clk), "web"); got.Err != nil || got.Created != 3 || got.Waiting != nil {
		t.Fatalf("install inside the window: %+v, want 3 created", got)
	}

	// A new version pushed after the window closed waits; a live edit is
	// corrected at once, to what was applied last.
	clk.now = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	f.addRelease("web", ns, "2.0.0", "registry.example.com/web:2.0.0")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	editConfigMap(t, r.client, ns, "web-config")
	rep = gatedSync(t, r, f, h, clk)
	want = "2.0.0 held back: waiting for maintenance window, opens 2026-12-04T02:00:00Z"
	if got := result(t, rep, "web"); got.Err != nil || got.Note != want || got.Version != "1.0.0" || got.Drift != 1 {
		t.Fatalf("bump outside the window: %+v, want %q at 1.0.0 with the drift corrected", got, want)
	}
	if img := image(t, r.client, ns, "web"); img != "registry.example.com/web:1.0.0" {
		t.Fatalf("image = %s while 2.0.0 waits", img)
	}
	if lvl := configLevel(t, r.client, ns, "web-config"); lvl != "info" {
		t.Fatalf("live edit not corrected while 2.0.0 waits: level = %s", lvl)
	}

	// The window opens: the new version goes in.
	clk.now = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	if got := result(t, gatedSync(t, r, f, h, clk), "web"); got.Err != nil || got.Version != "2.0.0" || got.Waiting != nil {
		t.Fatalf("bump inside the window: %+v, want 2.0.0 applied", got)
	}
	if img := image(t, r.client, ns, "web"); img != "registry.example.com/web:2.0.0" {
		t.Fatalf("image = %s once the window opened", img)
	}
}

// TestGatedFreeze: a site freeze and a fleet freeze hold a change that
// prunes, drift is corrected meanwhile, and lifting the freeze applies it.
func TestGatedFreeze(t *testing.T) {
	const site, ns = "frozen", "gf-web"
	clk := &clock{now: time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)}
	r := gatedReconciler(t, site, clk)
	f := newFleetFixture(t, site)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	h := &history{}
	if got := result(t, gatedSync(t, r, f, h, clk), "web"); got.Err != nil || got.Created != 3 {
		t.Fatalf("install: %+v", got)
	}
	// 2.0.0 drops the ConfigMap.
	f.addRelease("web", ns, "2.0.0", "registry.example.com/web:2.0.0")
	f.write("products/web/releases/2.0.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))

	until := "2027-01-04T08:00:00Z"
	for _, freeze := range []struct {
		name, file, content, want string
	}{
		{"site", "sites/" + site + "/site.yaml", siteWith(site, "  freeze: true\n"), "2.0.0 held back: frozen: site frozen has freeze: true"},
		{"fleet", "fleet.yaml", fixtureFleet + "  freeze: {reason: year-end, until: " + until + "}\n", "2.0.0 held back: frozen: year-end (until " + until + ")"},
	} {
		t.Run(freeze.name, func(t *testing.T) {
			f.write(freeze.file, freeze.content)
			editConfigMap(t, r.client, ns, "web-config")
			got := result(t, gatedSync(t, r, f, h, clk), "web")
			if got.Err != nil || got.Note != freeze.want || got.Pruned != 0 || got.Drift != 1 || got.Version != "1.0.0" {
				t.Fatalf("sync in a %s freeze: %+v, want %q, nothing pruned, drift corrected", freeze.name, got, freeze.want)
			}
			if lvl := configLevel(t, r.client, ns, "web-config"); lvl != "info" {
				t.Fatalf("drift not corrected in a freeze: level = %s", lvl)
			}
			if img := image(t, r.client, ns, "web"); img != "registry.example.com/web:1.0.0" {
				t.Fatalf("image = %s in a freeze", img)
			}
		})
	}
	// The site freeze is lifted by a commit; the fleet freeze by its end.
	f.write("sites/"+site+"/site.yaml", fixtureSite(site))
	if got := result(t, gatedSync(t, r, f, h, clk), "web"); got.Waiting == nil || got.Waiting.Hold.Kind != gate.FleetFreeze {
		t.Fatalf("site freeze lifted, fleet freeze still on: %+v", got)
	}
	clk.now = time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	got := result(t, gatedSync(t, r, f, h, clk), "web")
	if got.Err != nil || got.Waiting != nil || got.Version != "2.0.0" || got.Pruned != 1 {
		t.Fatalf("after the freeze: %+v, want 2.0.0 applied and the ConfigMap pruned", got)
	}
}

// TestGatedRemovalInFreeze: a product that leaves the site is not pruned
// during a freeze.
func TestGatedRemovalInFreeze(t *testing.T) {
	const site, ns = "frozen-removal", "gfr-web"
	clk := &clock{now: time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)}
	r := gatedReconciler(t, site, clk)
	f := newFleetFixture(t, site)
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	h := &history{}
	gatedSync(t, r, f, h, clk)
	f.write("sites/"+site+"/site.yaml", siteWith(site, "  freeze: true\n"))
	f.remove("products/web")
	f.remove("channels/web.yaml")
	got := result(t, gatedSync(t, r, f, h, clk), "web")
	if got.Pruned != 0 || !strings.HasPrefix(got.Note, "removal held back: frozen") {
		t.Fatalf("removal in a freeze: %+v, want nothing pruned", got)
	}
	if !exists(t, r.client, &appsv1.Deployment{}, ns, "web") {
		t.Fatal("web pruned in a freeze")
	}
	f.write("sites/"+site+"/site.yaml", fixtureSite(site))
	// web is all of the site: removing it is a mass prune, allowed here.
	r.cfg.MaxPrunePercent = 100
	if got := result(t, gatedSync(t, r, f, h, clk), "web"); got.Pruned != 3 {
		t.Fatalf("removal after the freeze: %+v, want 3 pruned", got)
	}
}

// TestGatedRamp: two sites, each with its own cluster, on a channel at 50 %
// an hour take a new version an hour apart; a recall roll-off is not ramped.
func TestGatedRamp(t *testing.T) {
	const ns = "gr-web"
	sites := []string{"ramp-a", "ramp-b"}
	changed := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if gate.Turn(sites[1], "web", "2.0.0", sites, 50, changed).Equal(changed) {
		sites[0], sites[1] = sites[1], sites[0]
	}
	first, second := sites[0], sites[1] // by the hash of 2.0.0
	clk := &clock{now: changed.Add(-time.Hour)}
	f := newFleetFixture(t, first)
	f.write("fleet.yaml", fixtureFleet+"  rollout: {maxSitesPercentPerHour: 50}\n")
	f.write("sites/"+second+"/site.yaml", fixtureSite(second))
	f.addProduct("web", ns, "1.0.0", "registry.example.com/web:1.0.0")
	h := &history{}
	recs := map[string]*Reconciler{first: gatedReconciler(t, first, clk)}
	other := testenv.NewCluster(t, testenv.ClusterOptions{})
	recs[second] = newTestReconciler(t, other, second)
	recs[second].cfg.Now = clk.Now
	sync := func(site string) Result {
		t.Helper()
		return result(t, gatedSync(t, recs[site], f, h, clk), "web")
	}
	for _, s := range sites {
		if got := sync(s); got.Err != nil || got.Created != 3 {
			t.Fatalf("install at %s: %+v", s, got)
		}
	}

	// The channel moves to 2.0.0 at changed.
	clk.now = changed
	f.addRelease("web", ns, "2.0.0", "registry.example.com/web:2.0.0")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	h.commit(t, f, changed)
	clk.now = changed.Add(10 * time.Minute)
	if got := sync(first); got.Err != nil || got.Version != "2.0.0" || got.Waiting != nil {
		t.Fatalf("first site in the ramp: %+v, want 2.0.0 applied", got)
	}
	want := "2.0.0 held back: ramp: this site's turn at 2026-12-02T11:00:00Z"
	if got := sync(second); got.Err != nil || got.Version != "1.0.0" || got.Note != want {
		t.Fatalf("second site in the ramp: %+v, want %q", got, want)
	}
	clk.now = changed.Add(time.Hour)
	if got := sync(second); got.Err != nil || got.Version != "2.0.0" || got.Waiting != nil {
		t.Fatalf("second site at its turn: %+v, want 2.0.0 applied", got)
	}

	// 2.0.0 is recalled and the channel moves back: no ramp for a roll-off.
	f.write("products/web/releases/2.0.0/release.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata: {name: web-2.0.0}
spec: {recalled: true, reason: "crash loop"}
`)
	f.write("channels/web.yaml", fixtureChannels("web", "1.0.0"))
	for _, s := range sites {
		if got := sync(s); got.Err != nil || got.Version != "1.0.0" || got.Waiting != nil {
			t.Fatalf("recall roll-off at %s: %+v, want 1.0.0 at once", s, got)
		}
		if img := image(t, recs[s].client, ns, "web"); img != "registry.example.com/web:1.0.0" {
			t.Fatalf("image at %s = %s after the roll-off", s, img)
		}
	}
}
