package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/health"
)

func TestSyncReportsHealthyWhenPodsBecomeReady(t *testing.T) {
	c := fullCluster(t)
	const site = "healthy"
	f := newFleetFixture(t, site)
	f.addProduct("web", "hl-web", "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	r.cfg.HealthTimeout = 90 * time.Second

	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Health != health.Healthy {
		t.Fatalf("web health = %s (%s), want HEALTHY once kwok runs the pod", got.Health, got.Note)
	}
}

func TestSyncRefusesEmptyRender(t *testing.T) {
	c := sharedCluster(t)
	const site = "empty"
	f := newFleetFixture(t, site)
	f.addProduct("web", "em-web", "1.0.0", "registry.example.com/web:1.0.0")
	r := newTestReconciler(t, c, site)
	syncOnce(t, r, f.plan(site))

	// A release that renders nothing is an error, never "prune everything".
	f.write("products/web/releases/1.0.0/kustomization.yaml", "resources: []\n")
	rep := syncOnce(t, r, f.plan(site))
	if got := result(t, rep, "web"); got.Err == nil || got.Pruned != 0 {
		t.Fatalf("empty render: %+v, want an error and nothing pruned", got)
	}
	invs, err := r.inventory.List(context.Background())
	if err != nil || len(invs["web"].Entries) != 3 {
		t.Fatalf("inventory after empty render: %v %v, want web's 3 objects kept", invs, err)
	}

	// When the site really targets nothing any more, its objects go.
	f.write("sites/"+site+"/site.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: `+site+`, labels: {class: lab}}
spec: {channel: prod}
`)
	// Deleting all of a site's objects is a mass prune: it needs the
	// head commit's Syncd-Allow-Mass-Prune trailer.
	plan := f.plan(site)
	rep = syncOnce(t, r, plan)
	if got := result(t, rep, "web"); got.Pruned != 0 || rep.PruneRefused == nil {
		t.Fatalf("site no longer targeted, no trailer: %+v, refused %v; want nothing pruned", got, rep.PruneRefused)
	}
	plan.AllowMassPrune = true
	rep = syncOnce(t, r, plan)
	if got := result(t, rep, "web"); got.Pruned != 3 {
		t.Fatalf("site no longer targeted: %+v, want 3 pruned", got)
	}
}
