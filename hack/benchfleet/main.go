// Command benchfleet measures syncd at fleet scale against one Git server:
// for each N of -sites it starts an OpenSSH Git server (internal/testenv),
// one API server shared by every site, and N `syncd run --site siteNNN`
// daemons (each with its own --cache-dir, polling every -interval), the first
// one with --promote. Each site renders the fleet's one product into its own
// namespace through its site Component. It then reports:
//
//   - idle: the Git server's CPU (sshd and every Git process under it) and
//     its SSH sessions per minute over -idle, and whether anything was
//     fetched (new pack files in the sites' caches) or pushed (status
//     branches that moved);
//   - the time from one commit (a channel bump every site takes) to every
//     site applied (the product's ConfigMap at the new version in each
//     site's namespace);
//   - the promoter's evaluation time with N status reports (`syncd promote
//     --once --dry-run`, first run and warm cache);
//   - the resident memory of each daemon (median and max).
//
// It is not part of `make test` or CI:
//
//	make bench-fleet  # go run ./hack/benchfleet [-sites 10,50,100,200] [-interval 15s] [-idle 1m]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// config is what the flags set.
type config struct {
	sites    []int
	interval time.Duration
	idle     time.Duration
	settle   time.Duration
	timeout  time.Duration
	keep     bool
	stagger  bool
}

func main() {
	var cfg config
	sites := flag.String("sites", "10,50,100,200", "comma-separated fleet sizes to measure, one run each")
	flag.DurationVar(&cfg.interval, "interval", 15*time.Second, "each syncd's --interval")
	flag.DurationVar(&cfg.idle, "idle", time.Minute, "the idle window over which the Git server's load is measured")
	flag.DurationVar(&cfg.settle, "settle", 0, "wait after every site applied before the idle window (default: two intervals)")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "how long the sites may take to apply the first commit, and the bump")
	flag.BoolVar(&cfg.stagger, "stagger", true, "spread the daemons' starts over one interval, so they poll at different phases as a real fleet does (false: all in step)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directories (logs, caches, repository)")
	flag.Parse()
	var err error
	if cfg.sites, err = parseSizes(*sites); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet:", err)
		os.Exit(2)
	}
	if cfg.settle == 0 {
		cfg.settle = 2 * cfg.interval
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet:", err)
		os.Exit(1)
	}
}

// parseSizes reads "10,50" as [10 50].
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 999 {
			return nil, fmt.Errorf("-sites: %q is not a fleet size between 1 and 999", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-sites names no fleet size")
	}
	return out, nil
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "syncd-benchfleet-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	bin := filepath.Join(binDir, "syncd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/syncd")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building syncd: %w", err)
	}
	var results []result
	for _, n := range cfg.sites {
		fmt.Fprintf(out, "== %d sites, interval %s\n", n, cfg.interval)
		r, err := measure(ctx, cfg, bin, n, out)
		if err != nil {
			printTable(out, results)
			return fmt.Errorf("%d sites: %w", n, err)
		}
		results = append(results, r)
		printTable(out, []result{r})
	}
	fmt.Fprintln(out)
	printTable(out, results)
	return nil
}

// result is what one fleet size measured.
type result struct {
	sites                  int
	interval               time.Duration
	idle                   time.Duration
	firstApplied           time.Duration
	idleCPU                time.Duration
	sessions               int
	packsFetched           int
	statusPushes           int
	bumpApplied            time.Duration
	promoteCold, promoteOK time.Duration
	rssMedian, rssMax      int64
	anonMedian, anonMax    int64 // RssAnon: the daemon's own memory, without the binary's shared pages
	loadavg                string
}

func printTable(out io.Writer, rs []result) {
	if len(rs) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "sites\tfirst sync, all\tidle git CPU/min\tssh sessions/min\tper site/interval\tpacks fetched idle\tstatus pushes idle\tbump -> all applied\tpromote eval cold\tpromote eval warm\tRSS median\tRSS max\tanon median\tanon max\tload avg\t")
	for _, r := range rs {
		perMin := func(v float64) float64 { return v * float64(time.Minute) / float64(r.idle) }
		cpu := time.Duration(perMin(float64(r.idleCPU)))
		sessions := perMin(float64(r.sessions))
		perSiteInterval := sessions / float64(r.sites) * float64(r.interval) / float64(time.Minute)
		fmt.Fprintf(w, "%d\t%s\t%s\t%.0f\t%.2f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.sites,
			r.firstApplied.Round(100*time.Millisecond), cpu.Round(10*time.Millisecond), sessions, perSiteInterval,
			r.packsFetched, r.statusPushes, r.bumpApplied.Round(100*time.Millisecond),
			r.promoteCold.Round(10*time.Millisecond), r.promoteOK.Round(10*time.Millisecond),
			mib(r.rssMedian), mib(r.rssMax), mib(r.anonMedian), mib(r.anonMax), r.loadavg)
	}
	_ = w.Flush()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// bench is one fleet size's running world.
type bench struct {
	cfg     config
	bin     string
	work    string
	git     *testenv.GitServer
	cluster *testenv.Cluster
	src     string // the working copy of the fleet repo
	daemons []*testenv.Process
	stops   []func() error
}

func measure(ctx context.Context, cfg config, bin string, n int, out io.Writer) (res result, err error) {
	b := &bench{cfg: cfg, bin: bin}
	defer func() {
		for i := len(b.stops) - 1; i >= 0; i-- {
			if e := b.stops[i](); e != nil && err == nil {
				err = e
			}
		}
	}()
	if b.work, err = os.MkdirTemp("", fmt.Sprintf("syncd-benchfleet-%d-", n)); err != nil {
		return res, err
	}
	if cfg.keep {
		fmt.Fprintf(out, "work directory: %s\n", b.work)
	} else {
		b.stops = append(b.stops, func() error { return os.RemoveAll(b.work) })
	}
	res = result{sites: n, interval: cfg.interval, idle: cfg.idle}
	if b.git, err = testenv.StartGitServer(); err != nil {
		return res, err
	}
	b.stops = append(b.stops, b.git.Stop)
	if err := os.MkdirAll(filepath.Join(b.work, "cluster"), 0o755); err != nil {
		return res, err
	}
	if b.cluster, err = testenv.StartCluster(ctx, testenv.ClusterOptions{LogDir: filepath.Join(b.work, "cluster")}); err != nil {
		return res, err
	}
	b.stops = append(b.stops, b.cluster.Stop)
	if err := b.seed(n); err != nil {
		return res, err
	}

	// Sites of a real fleet poll at random phases; started together they
	// would poll in step (a burst of N sessions, and a bump applied at the
	// next common tick), so the starts are spread over one interval.
	t0 := time.Now()
	for i := range n {
		if i > 0 && cfg.stagger {
			if err := sleep(ctx, cfg.interval/time.Duration(n)); err != nil {
				return res, err
			}
		}
		if err := b.startSite(i); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(out, "  started %d daemons in %s\n", n, time.Since(t0).Round(time.Millisecond))
	if err := b.waitApplied(ctx, n, "1.0.0"); err != nil {
		return res, err
	}
	res.firstApplied = time.Since(t0)
	// A site publishes its first report after its apply: wait for every
	// report, so that the idle window does not count the tail of the first
	// sync (the last reports pushed, the promoter fetching them).
	if err := b.waitReports(ctx, n); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "  every site applied 1.0.0 %s after the first start, reports %s; settling %s\n",
		res.firstApplied.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond), cfg.settle)
	if err := sleep(ctx, cfg.settle); err != nil {
		return res, err
	}

	// Idle window.
	before, err := b.snapshot()
	if err != nil {
		return res, err
	}
	if err := sleep(ctx, cfg.idle); err != nil {
		return res, err
	}
	after, err := b.snapshot()
	if err != nil {
		return res, err
	}
	res.idleCPU = after.cpu - before.cpu
	res.sessions = after.sessions - before.sessions
	res.packsFetched = after.packs - before.packs
	res.statusPushes = changedRefs(before.refs, after.refs)
	if res.rssMedian, res.rssMax, err = b.rss("VmRSS"); err != nil {
		return res, err
	}
	if res.anonMedian, res.anonMax, err = b.rss("RssAnon"); err != nil {
		return res, err
	}
	res.loadavg = loadavg()
	fmt.Fprintf(out, "  idle %s: git server CPU %s, %d SSH sessions, %d packs fetched, %d status branches moved\n",
		cfg.idle, res.idleCPU.Round(10*time.Millisecond), res.sessions, res.packsFetched, res.statusPushes)

	// One channel bump every site takes.
	t1 := time.Now()
	if err := b.commit(n, "1.0.1", "bump app to 1.0.1 on every channel"); err != nil {
		return res, err
	}
	if err := b.waitApplied(ctx, n, "1.0.1"); err != nil {
		return res, err
	}
	res.bumpApplied = time.Since(t1)
	fmt.Fprintf(out, "  bump -> all %d applied: %s\n", n, res.bumpApplied.Round(100*time.Millisecond))

	// The promoter with N reports (every site has one since the first sync):
	// evaluate once from a cold cache and once warm.
	if err := b.waitReports(ctx, n); err != nil {
		return res, err
	}
	cache := filepath.Join(b.work, "promote-eval")
	if res.promoteCold, err = b.promoteOnce(ctx, cache); err != nil {
		return res, err
	}
	if res.promoteOK, err = b.promoteOnce(ctx, cache); err != nil {
		return res, err
	}
	for i, p := range b.daemons {
		if p.Exited() {
			return res, fmt.Errorf("site%03d's syncd exited: %v (log %s)", i, p.Err(), b.siteLog(i))
		}
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func siteName(i int) string { return fmt.Sprintf("site%03d", i) }

func (b *bench) siteDir(i int) string { return filepath.Join(b.work, siteName(i)) }

func (b *bench) siteLog(i int) string { return filepath.Join(b.siteDir(i), "syncd.log") }

// seed creates fleet.git with the fleet of n sites at version 1.0.0.
func (b *bench) seed(n int) error {
	if _, err := b.git.CreateRepo("fleet.git", "main"); err != nil {
		return err
	}
	b.src = filepath.Join(b.work, "fleet-src")
	if err := os.MkdirAll(b.src, 0o755); err != nil {
		return err
	}
	if err := b.gitIn("init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	return b.commit(n, "1.0.0", "fleet of "+strconv.Itoa(n)+" sites")
}

// commit writes the fleet of n sites with every channel at version, commits
// and pushes it over SSH.
func (b *bench) commit(n int, version, msg string) error {
	for name, content := range fleetFiles(n, version) {
		p := filepath.Join(b.src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"commit", "--quiet", "-m", msg},
		{"push", "--quiet", b.git.URL("fleet.git"), "HEAD:main"},
	} {
		if err := b.gitIn(args...); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) gitIn(args ...string) error {
	_, err := testenv.RunGit(b.src, []string{"GIT_SSH_COMMAND=" + b.git.GitSSHCommand(b.git.DeployKey.PrivatePath)}, args...)
	return err
}

// fleetFiles is the fleet repo: channels dev and prod with a timed stage
// between them (so the promoter has a pipeline to evaluate), one product
// "app" (a Namespace and a ConfigMap) at version on both channels, and n
// sites on prod, each with a Component that moves the product into the
// site's own namespace.
func fleetFiles(n int, version string) map[string]string {
	files := map[string]string{
		"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: benchfleet}
spec:
  channels: [dev, prod]
  pipelines:
    - product: "*"
      stages:
        - from: dev
          to: prod
          timed: {duration: 1h}
`,
		"products/app/product.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: app}\nspec: {targets: \"true\"}\n",
		"channels/app.yaml":         fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: app}\nspec: {dev: %s, prod: %s}\n", version, version),
	}
	for _, v := range []string{"1.0.0", version} {
		dir := "products/app/releases/" + v + "/"
		files[dir+"kustomization.yaml"] = "resources: [objects.yaml]\n"
		files[dir+"objects.yaml"] = fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: app}
data: {version: %q}
`, v)
	}
	for i := range n {
		s := siteName(i)
		files["sites/"+s+"/site.yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: %s, labels: {class: bench}}\nspec: {channel: prod}\n", s)
		files["sites/"+s+"/products/app/kustomization.yaml"] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - target: {kind: Namespace}
    patch: |-
      - op: replace
        path: /metadata/name
        value: %[1]s
  - target: {kind: ConfigMap}
    patch: |-
      - op: replace
        path: /metadata/namespace
        value: %[1]s
`, s)
	}
	return files
}

// startSite starts site i's daemon; site 0 also runs the promoter.
func (b *bench) startSite(i int) error {
	dir := b.siteDir(i)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := []string{"run", "--site", siteName(i), "--repo", b.git.URL("fleet.git"),
		"--identity", b.git.DeployKey.PrivatePath, "--known-hosts", b.git.KnownHosts,
		"--kubeconfig", b.cluster.Kubeconfig, "--cache-dir", filepath.Join(dir, "cache"),
		"--interval", b.cfg.interval.String(), "--health-timeout", "30s", "--listen", "127.0.0.1:0"}
	if i == 0 {
		args = append(args, "--promote")
	}
	p, err := testenv.StartProcess("syncd "+siteName(i), b.bin, args, b.siteLog(i))
	if err != nil {
		return err
	}
	b.daemons = append(b.daemons, p)
	b.stops = append(b.stops, func() error { return p.Stop(15 * time.Second) })
	return nil
}

// waitApplied waits until every site's namespace holds the ConfigMap at version.
func (b *bench) waitApplied(ctx context.Context, n int, version string) error {
	deadline := time.Now().Add(b.cfg.timeout)
	for {
		var list corev1.ConfigMapList
		if err := b.cluster.Client.List(ctx, &list); err != nil {
			return err
		}
		done := 0
		for _, cm := range list.Items {
			if cm.Name == "app" && strings.HasPrefix(cm.Namespace, "site") && cm.Data["version"] == version {
				done++
			}
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sites applied %s within %s (logs under %s)", done, n, version, b.cfg.timeout, b.work)
		}
		for i, p := range b.daemons {
			if p.Exited() {
				return fmt.Errorf("%s's syncd exited: %v (log %s)", siteName(i), p.Err(), b.siteLog(i))
			}
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitReports waits until every site has published its status branch.
func (b *bench) waitReports(ctx context.Context, n int) error {
	deadline := time.Now().Add(b.cfg.timeout)
	for {
		refs, err := statusRefs(b.git.RepoPath("fleet.git"))
		if err != nil {
			return err
		}
		if len(refs) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sites published a status branch within %s", len(refs), n, b.cfg.timeout)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// promoteOnce times `syncd promote --once --dry-run` with cache.
func (b *bench) promoteOnce(ctx context.Context, cache string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.bin, "promote", "--once", "--dry-run", "-o", "json", "--cache-dir", cache,
		"--repo", b.git.URL("fleet.git"), "--identity", b.git.DeployKey.PrivatePath, "--known-hosts", b.git.KnownHosts)
	t := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(t)
	if err != nil {
		return 0, fmt.Errorf("syncd promote --once --dry-run: %w\n%s", err, out)
	}
	return took, nil
}

// snapshot is the Git server's counters at one instant.
type snapshot struct {
	cpu      time.Duration     // sshd's CPU and that of its reaped descendants
	sessions int               // SSH sessions accepted so far
	packs    int               // pack files in every site's cache
	refs     map[string]string // status branch -> commit
}

func (b *bench) snapshot() (snapshot, error) {
	var s snapshot
	var err error
	if s.cpu, err = sshdCPU(b.git); err != nil {
		return s, err
	}
	logData, err := os.ReadFile(filepath.Join(filepath.Dir(b.git.Dir), "sshd.log.events"))
	if err != nil {
		return s, fmt.Errorf("reading sshd's log: %w", err)
	}
	s.sessions = strings.Count(string(logData), "Accepted publickey")
	for i := range b.daemons {
		s.packs += countPacks(filepath.Join(b.siteDir(i), "cache"))
	}
	s.refs, err = statusRefs(b.git.RepoPath("fleet.git"))
	return s, err
}

// sshdCPU is the CPU time of the sshd listener and of every process it
// reaped: each session's sshd, the shell and git-upload-pack or
// git-receive-pack under it (a session ends before the next snapshot, so
// cutime+cstime hold it).
func sshdCPU(g *testenv.GitServer) (time.Duration, error) {
	pidData, err := os.ReadFile(filepath.Join(filepath.Dir(g.Dir), "sshd.pid"))
	if err != nil {
		return 0, fmt.Errorf("reading sshd's pid file: %w", err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pidData)) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading sshd's /proc stat: %w", err)
	}
	return procCPU(string(stat))
}

// procCPU sums utime, stime, cutime and cstime of a /proc/<pid>/stat line.
func procCPU(stat string) (time.Duration, error) {
	// The command name may hold ") ": the fields follow its last ')'.
	i := strings.LastIndex(stat, ") ")
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+2:])
	// rest starts at field 3 (state); utime is field 14.
	if len(f) < 15 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:15] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc stat %q: %w", stat, err)
		}
		ticks += v
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / clkTck, nil
}

// countPacks counts the pack files under a cache directory.
func countPacks(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".pack") {
			n++
		}
		return nil
	})
	return n
}

// statusRefs lists the status branches of the bare repository.
func statusRefs(bare string) (map[string]string, error) {
	out, err := testenv.RunGit(bare, nil, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/syncd/status/")
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, sha, ok := strings.Cut(line, " "); ok {
			refs[name] = sha
		}
	}
	return refs, nil
}

// changedRefs counts the refs of after that are new or moved since before.
func changedRefs(before, after map[string]string) int {
	n := 0
	for name, sha := range after {
		if before[name] != sha {
			n++
		}
	}
	return n
}

// rss returns the median and max of a /proc/<pid>/status memory field
// (VmRSS, RssAnon) over the daemons.
func (b *bench) rss(field string) (median, maxRSS int64, err error) {
	var all []int64
	for i, p := range b.daemons {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", siteName(i), err)
		}
		v, err := statusKB(string(data), field)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", siteName(i), err)
		}
		all = append(all, v)
	}
	return medianMax(all)
}

// statusKB reads a field in kB (VmRSS, RssAnon) from a /proc/<pid>/status
// text, in bytes.
func statusKB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", field, rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// medianMax returns the median and the maximum of vs.
func medianMax(vs []int64) (median, maxV int64, err error) {
	if len(vs) == 0 {
		return 0, 0, errors.New("no values")
	}
	s := slices.Sorted(slices.Values(vs))
	mid := len(s) / 2
	median = s[mid]
	if len(s)%2 == 0 {
		median = (s[mid-1] + s[mid]) / 2
	}
	return median, s[len(s)-1], nil
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
