package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/status"
)

// benchPromote measures the promoter and `syncd fleet status` on a fleet of
// products × sites whose status reports sit as branches syncd/status/<site>
// of a bare repo served by OpenSSH: the time to fetch the repo and the
// reports and decide, and the SSH sessions (Git round trips) one evaluation
// opens.
func benchPromote(ctx context.Context, syncd string, products, sites int) error {
	srv, bare, err := startRepo("fleet.git")
	if err != nil {
		return err
	}
	defer srv.Stop()
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	if err := generatePromoteFleet(bare, products, sites, now); err != nil {
		return err
	}
	fmt.Printf("\npromote: generated a fleet of %d products × %d sites with %d status branches in %s; served by OpenSSH on %s\n",
		products, sites, sites, time.Since(start).Round(time.Millisecond), srv.Addr())

	work, err := os.MkdirTemp("", "syncd-bench-promote-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	url := srv.URL("fleet.git")
	src, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath,
		KnownHostsFile: srv.KnownHosts, CacheDir: filepath.Join(work, "promoter-cache")})
	if err != nil {
		return err
	}
	// The reports are cached across evaluations as in `run --promote`.
	cache := status.NewReportCache()
	p := &promote.Promoter{
		Git: src, DryRun: true,
		Reports: func(ctx context.Context, _ promote.FleetAt) (map[string]*status.Report, map[string]error, error) {
			return cache.ReadReports(ctx, src)
		},
	}
	w := newTable()
	fmt.Fprintln(w, "evaluation (in one process, --dry-run)\twall\tSSH sessions\treports read\tdecisions\t")
	for _, name := range []string{"first (empty cache)", "second (nothing changed)", "third (nothing changed)"} {
		before := src.Sessions()
		start := time.Now()
		res, err := p.Once(ctx)
		wall := time.Since(start)
		if err != nil {
			return fmt.Errorf("promoter evaluation: %w", err)
		}
		if len(res.Unreadable) > 0 {
			return fmt.Errorf("promoter evaluation: %d unreadable reports", len(res.Unreadable))
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t\n", name, wall.Round(time.Millisecond), src.Sessions()-before,
			sites-len(res.Unreadable), decisionCounts(res.Decisions))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	// Where an evaluation's time goes, nothing having changed.
	phases := []struct {
		name string
		do   func() error
	}{
		{"for scale: git ls-remote (git CLI, same sshd)", func() error {
			cmd := exec.CommandContext(ctx, "git", "ls-remote", url)
			cmd.Env = append(os.Environ(), sshEnv(srv))
			return cmd.Run()
		}},
		{"fetch of the tracked branch", func() error { _, _, err := src.Fetch(ctx); return err }},
		{fmt.Sprintf("fetch of the %d status branches", sites), func() error { _, err := src.FetchBranches(ctx, status.BranchPrefix); return err }},
		{"fetch and read of every report", func() error { _, _, err := status.ReadReports(ctx, src); return err }},
	}
	w = newTable()
	fmt.Fprintln(w, "step of an evaluation	wall	SSH sessions	")
	for _, ph := range phases {
		before := src.Sessions()
		start := time.Now()
		if err := ph.do(); err != nil {
			return fmt.Errorf("%s: %w", ph.name, err)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t\n", ph.name, time.Since(start).Round(time.Millisecond), src.Sessions()-before)
	}
	if err := w.Flush(); err != nil {
		return err
	}

	// The command line, each a fresh process with its cache on disk.
	common := []string{"--repo", url, "--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts}
	cli := func(name, cache string, args ...string) (run, error) {
		cmd := exec.CommandContext(ctx, syncd, append(append(args, common...), "--cache-dir", filepath.Join(work, cache))...)
		cmd.Stdout = nil
		return measure(name, cmd)
	}
	var rows []run
	for _, step := range []struct {
		name, cache string
		args        []string
	}{
		{"syncd promote --once --dry-run (empty cache)", "cli-promote", []string{"promote", "--once", "--dry-run"}},
		{"syncd promote --once --dry-run (warm cache)", "cli-promote", []string{"promote", "--once", "--dry-run"}},
		{"syncd fleet status (empty cache)", "cli-status", []string{"fleet", "status"}},
		{"syncd fleet status (warm cache)", "cli-status", []string{"fleet", "status"}},
	} {
		r, err := cli(step.name, step.cache, step.args...)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	table(fmt.Sprintf("promote: command line on %d products × %d sites", products, sites), rows, nil)
	return nil
}

// decisionCounts summarizes decisions as "promote 100, wait 100".
func decisionCounts(ds []promote.Decision) string {
	n := map[string]int{}
	for _, d := range ds {
		n[string(d.Decision)]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return strings.Join(parts, ", ")
}

// promoteChannel is the channel of site i: a tenth on dev, a fifth on
// staging, the rest on prod.
func promoteChannel(i, sites int) string {
	switch {
	case i < sites/10:
		return "dev"
	case i < sites*3/10:
		return "staging"
	}
	return "prod"
}

// generatePromoteFleet writes into bare, with git fast-import, a fleet of
// products × sites on channels dev, staging and prod with a timed stage
// dev → staging and a canary stage staging → prod (a quarter of the staging
// sites are canaries); 1.1.0 landed on dev and staging two hours before now,
// prod runs 1.0.0. Each site's report is the only commit of its branch
// syncd/status/<site>: every product healthy since its version arrived.
func generatePromoteFleet(bare string, products, sites int, now time.Time) error {
	var err error
	ferr := fastImport(bare, func(w *bufio.Writer) { err = writePromoteFleet(w, products, sites, now) })
	return firstErr(err, ferr)
}

// writePromoteFleet writes the fleet of generatePromoteFleet to a
// fast-import stream.
func writePromoteFleet(w *bufio.Writer, products, sites int, now time.Time) error {
	commit := func(ref string, at time.Time, msg string) { writeCommit(w, ref, at, msg) }
	channels := func(p, dev, staging, prod string) string {
		return fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {dev: %s, staging: %s, prod: %s}\n", p, dev, staging, prod)
	}
	name := func(i int) string { return fmt.Sprintf("p%03d", i) }
	site := func(i int) string { return fmt.Sprintf("site-%03d", i) }

	landed := now.Add(-2 * time.Hour)
	commit("refs/heads/main", landed.Add(-24*time.Hour), "fleet")
	writeBlob(w, "fleet.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: bench}
spec:
  channels: [dev, staging, prod]
  criteria: {healthyThreshold: 0.95, unhealthyThreshold: 0.05}
  pipelines:
    - product: "*"
      stages:
        - {from: dev, to: staging, timed: {duration: 1h}}
        - from: staging
          to: prod
          canary:
            sites: {withLabels: {canary: "true"}}
            promoteWhenHealthy: {percent: 50, soak: 30m}
            recallWhenUnhealthy: {sites: 1, soak: 5m}
            minSites: 1
`)
	for i := 0; i < sites; i++ {
		canary := "false"
		if promoteChannel(i, sites) == "staging" && i%4 == 0 {
			canary = "true"
		}
		writeBlob(w, "sites/"+site(i)+"/site.yaml", fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: %s, labels: {class: prod, canary: %q}}\nspec: {channel: %s}\n",
			site(i), canary, promoteChannel(i, sites)))
	}
	for i := 0; i < products; i++ {
		p := name(i)
		writeBlob(w, "products/"+p+"/product.yaml", fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: %s}\nspec: {targets: \"true\", namespace: %s}\n", p, p))
		for _, v := range []string{"1.0.0", "1.1.0"} {
			dir := "products/" + p + "/releases/" + v + "/"
			writeBlob(w, dir+"kustomization.yaml", "resources: [cm.yaml]\n")
			writeBlob(w, dir+"cm.yaml", fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {version: %q}\n", p, v))
		}
		writeBlob(w, "channels/"+p+".yaml", channels(p, "1.0.0", "1.0.0", "1.0.0"))
	}
	commit("refs/heads/main", landed, "1.1.0 on dev and staging")
	for i := 0; i < products; i++ {
		writeBlob(w, "channels/"+name(i)+".yaml", channels(name(i), "1.1.0", "1.1.0", "1.0.0"))
	}
	for i := 0; i < sites; i++ {
		r := &status.Report{
			APIVersion: status.ReportAPIVersion, Kind: status.ReportKind, FormatVersion: status.ReportFormatVersion,
			Site: site(i), Revision: strings.Repeat("ab", 20), RefreshedAt: now.Add(-time.Minute),
		}
		version, since := "1.0.0", landed.Add(-24*time.Hour)
		if promoteChannel(i, sites) != "prod" {
			version, since = "1.1.0", landed.Add(5*time.Minute)
		}
		for j := 0; j < products; j++ {
			r.Products = append(r.Products, status.ReportProduct{
				Name: name(j), Version: version, VersionSince: since, Health: health.Healthy, Since: since,
				Intervals: []status.Interval{{Health: health.Healthy, From: since}},
			})
		}
		data, err := r.Marshal()
		if err != nil {
			return err
		}
		commit("refs/heads/"+status.Branch(site(i)), now.Add(-time.Minute), "status of "+site(i))
		writeBlob(w, status.ReportFile, string(data))
	}
	return nil
}
