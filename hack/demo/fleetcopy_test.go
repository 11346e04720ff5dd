package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
)

// TestDemoTimingAndRelease rewrites a copy of the example fleet as the demo
// does and checks it still loads, in demo time, with the release on dev.
func TestDemoTimingAndRelease(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "fleet-repo"))); err != nil {
		t.Fatal(err)
	}
	if err := demoTiming(dir, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := addRelease(dir, theRelease); err != nil {
		t.Fatal(err)
	}
	repo, err := fleet.Load(os.DirFS(dir))
	if err != nil {
		t.Fatalf("the demo's fleet does not load: %v", err)
	}
	if r := repo.Fleet.Spec.Rollout; r.MaxSitesPercentPerHour > 0 {
		t.Errorf("the demo's fleet keeps its ramp: rollout %+v", r)
	}
	if len(repo.Fleet.Spec.Pipelines) == 0 {
		t.Fatal("no pipelines left")
	}
	for _, p := range repo.Fleet.Spec.Pipelines {
		if p.MaintenanceWindow != nil {
			t.Errorf("pipeline %s keeps its maintenance window", p.Product)
		}
		for _, s := range p.Stages {
			if s.Timed != nil && s.Timed.Duration.Duration != 90*time.Second {
				t.Errorf("pipeline %s stage %s -> %s lasts %v", p.Product, s.From, s.To, s.Timed.Duration)
			}
			if c := s.Canary; c != nil && (c.PromoteWhenHealthy.Soak.Duration != 90*time.Second || c.RecallWhenUnhealthy.Soak.Duration != 90*time.Second) {
				t.Errorf("pipeline %s stage %s -> %s soaks %v / %v", p.Product, s.From, s.To, c.PromoteWhenHealthy.Soak, c.RecallWhenUnhealthy.Soak)
			}
		}
	}
	for name, s := range repo.Sites {
		if len(s.Spec.MaintenanceWindows) > 0 {
			t.Errorf("site %s keeps its maintenance windows", name)
		}
	}
	res, err := repo.Resolve("edge-store-042", theRelease.Product)
	if err != nil || res.Version.Original() != theRelease.Version || res.Release.Labels["qa"] != "passed" {
		t.Fatalf("edge-store-042 resolves %s to %+v, %v; want %s labeled qa: passed", theRelease.Product, res, err, theRelease.Version)
	}
	if res, _ := repo.Resolve("gcp-eu-west-1-staging", theRelease.Product); res.Version.Original() != theRelease.From {
		t.Errorf("staging moved to %s before any promotion", res.Version)
	}
}
