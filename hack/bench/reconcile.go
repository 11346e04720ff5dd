package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// benchReconcile measures syncd sync --once on a generated site of n products
// of 4 objects (first sync, no-op re-sync, one image bump) beside kubectl
// apply --server-side of the same rendered YAML on a fresh API server.
func benchReconcile(ctx context.Context, syncd string, n int) error {
	dir, err := os.MkdirTemp("", "syncd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "fleet")
	if err := generateFleet(repo, n); err != nil {
		return err
	}
	fmt.Printf("reconcile: generated site of %d products x 4 objects = %d objects\n", n, 4*n)

	renderRun, err := measure("render only (offline)", exec.CommandContext(ctx, syncd, "render", "--site", "bench", "--repo-dir", repo))
	if err != nil {
		return err
	}
	syncdRuns, err := syncdSteps(ctx, syncd, repo, n)
	if err != nil {
		return err
	}
	kubectlRuns, err := kubectlSteps(ctx, syncd, repo, n)
	if err != nil {
		return err
	}
	objs := float64(4 * n)
	rate := func(r run) string { return fmt.Sprintf("%.0f objects/s", objs/r.wall.Seconds()) }
	table("syncd sync --once (health checked once, no wait)", append(syncdRuns, renderRun), rate)
	table("kubectl apply --server-side (same rendered YAML, fresh API server)", kubectlRuns, rate)
	fmt.Printf("\nratios: first sync %.2fx kubectl; no-op re-sync %.1f%% of first sync; bump %.2fx kubectl's re-apply\n",
		syncdRuns[0].wall.Seconds()/kubectlRuns[0].wall.Seconds(),
		100*syncdRuns[1].wall.Seconds()/syncdRuns[0].wall.Seconds(),
		syncdRuns[2].wall.Seconds()/kubectlRuns[2].wall.Seconds())
	return nil
}

func syncdSteps(ctx context.Context, syncd, repo string, n int) ([]run, error) {
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	// A cache directory of this run only: the first sync finds no renders
	// kept by an earlier one; the no-op finds the first sync's.
	cacheDir, err := os.MkdirTemp("", "syncd-bench-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cacheDir)
	sync := func(name string) (run, error) {
		cmd := exec.CommandContext(ctx, syncd, "sync", "--once", "--site", "bench", "--repo-dir", repo,
			"--kubeconfig", c.Kubeconfig, "--health-timeout", "0s", "--cache-dir", cacheDir)
		return measure(name, cmd)
	}
	var runs []run
	for _, step := range []struct {
		name   string
		before func() error
	}{
		{"first sync", nil},
		{"no-op re-sync", nil},
		{"one image bump", func() error { return bumpProduct(repo, 0) }},
	} {
		if step.before != nil {
			if err := step.before(); err != nil {
				return nil, err
			}
		}
		r, err := sync(step.name)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if err := unbumpProduct(repo, 0); err != nil {
		return nil, err
	}
	return runs, nil
}

func kubectlSteps(ctx context.Context, syncd, repo string, n int) ([]run, error) {
	kubectl, err := testBinary("kubectl")
	if err != nil {
		return nil, err
	}
	rendered := filepath.Join(filepath.Dir(repo), "rendered.yaml")
	if err := renderTo(ctx, syncd, repo, rendered); err != nil {
		return nil, err
	}
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	apply := func(name, file string) (run, error) {
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig, "apply", "--server-side",
			"--field-manager", "bench", "-f", file)
		cmd.Stdout = nil
		return measure(name, cmd)
	}
	first, err := apply("first apply", rendered)
	if err != nil {
		return nil, err
	}
	noop, err := apply("no-op re-apply", rendered)
	if err != nil {
		return nil, err
	}
	if err := bumpProduct(repo, 0); err != nil {
		return nil, err
	}
	bumped := filepath.Join(filepath.Dir(repo), "bumped.yaml")
	if err := renderTo(ctx, syncd, repo, bumped); err != nil {
		return nil, err
	}
	bump, err := apply("one image bump", bumped)
	if err != nil {
		return nil, err
	}
	return []run{first, noop, bump}, nil
}

func renderTo(ctx context.Context, syncd, repo, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, syncd, "render", "--site", "bench", "--repo-dir", repo)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("syncd render: %w: %s", err, stderr.String())
	}
	return nil
}

func testBinary(name string) (string, error) {
	dir, err := testenv.BinDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}
