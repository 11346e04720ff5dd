// Command demo runs syncd end to end on this machine, as a fleet: a local
// OpenSSH Git server serving a copy of examples/fleet-repo, and for each of
// two sites its own Kubernetes control plane (etcd, kube-apiserver,
// controller-manager, scheduler and a kwok fake node) and its own `syncd run`
// daemon publishing a status report to the fleet repo. An in-process OCI
// registry holds the fleet's images, pushed and cosign-signed by the demo
// with a key it generates (it replaces keys/trusted-ca.pub in the demo's
// copy), so telemetry-agent's signing policy is verified for real. Commits
// are signed too: every site runs with --verify-commits and applies only a
// head signed by the demo's release key or the promoter's, and signs its
// status report with its own key, declared as sites/<site>/site.pub. The first site's
// daemon also runs the promoter when this build of syncd has one. Once every
// site has reported, the demo ships a new release to the dev channel and
// prints, as they happen, the commits, branches and per-site versions and
// health that follow. Ctrl-C (or SIGTERM) stops every process it started.
//
//	make demo        # or: go run ./hack/demo -sites edge-store-042,gcp-eu-west-1-staging
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// options are the demo's flags.
type options struct {
	sites     []string
	workloads bool
	promote   bool
	release   bool
	stage     time.Duration
	interval  time.Duration
	work      string
	exit      bool
}

// readyLine starts the line printed once every site has reported (tests
// wait for it).
const readyLine = ">> ready:"

// theRelease is what the demo ships to dev once the sites run: a product
// both default sites run, from the dev channel's version.
var theRelease = demoRelease{Product: "telemetry-agent", From: "1.9.0", Version: "1.9.1"}

func main() {
	os.Exit(realMain())
}

func realMain() int {
	var o options
	sites := flag.String("sites", "edge-store-042,gcp-eu-west-1-staging", "comma-separated sites of examples/fleet-repo, each with its own cluster and syncd (the first is on dev, the second on staging)")
	flag.BoolVar(&o.workloads, "workloads", true, "also run kube-controller-manager, kube-scheduler and kwok per site, so workloads become Available")
	flag.BoolVar(&o.promote, "promote", true, "run the promoter (syncd run --promote on the first site) when this syncd has one")
	flag.BoolVar(&o.release, "release", true, "once every site has reported, commit "+theRelease.Product+" "+theRelease.Version+" to dev")
	flag.DurationVar(&o.stage, "stage", time.Minute, "timed stages and canary soaks in the demo's copy of the fleet repo")
	flag.DurationVar(&o.interval, "interval", 3*time.Second, "how often each syncd polls the fleet repo")
	flag.StringVar(&o.work, "work", "", "directory for logs, kubeconfigs and caches, emptied first (default: _output/demo at the repository root)")
	flag.BoolVar(&o.exit, "exit", false, "stop once every site has reported instead of waiting for Ctrl-C")
	flag.Parse()
	for _, s := range strings.Split(*sites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.sites = append(o.sites, s)
		}
	}
	if len(o.sites) == 0 {
		fmt.Fprintln(os.Stderr, "demo: -sites names no site")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := adoptOrphans(); err != nil {
		fmt.Fprintln(os.Stderr, "demo: cannot become the reaper of its descendants:", err)
	}
	d := &demo{opts: o, out: os.Stdout}
	err := d.run(ctx)
	if ctx.Err() != nil {
		fmt.Println("\n>> stopping: every syncd, cluster and the Git server")
	}
	code := 0
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		code = 1
	}
	if errs := d.teardown(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "demo: stopping:", e)
		}
		code = 1
	}
	for _, p := range killChildren(30 * time.Second) {
		fmt.Fprintf(os.Stderr, "demo: killed a process left behind: %s\n", p)
		code = 1
	}
	fmt.Println(">> stopped: no process of the demo is left")
	return code
}

// site is one site of the demo: its cluster and its syncd.
type site struct {
	name, channel string
	dir           string
	cluster       *testenv.Cluster
	syncd         *testenv.Process
	log           string
}

// demo is one run of the demo.
type demo struct {
	opts      options
	out       io.Writer
	root      string
	binDir    string
	syncd     string
	work      string
	git       *testenv.GitServer
	images    *images
	trust     *trust
	url       string
	seed      string
	sites     []*site
	promoter  string // how the promoter runs, or why it does not
	instr     string
	stopFuncs []func() error
}

// onStop registers f to run at teardown, in reverse order.
func (d *demo) onStop(f func() error) { d.stopFuncs = append(d.stopFuncs, f) }

// teardown stops everything started, last started first.
func (d *demo) teardown() []error {
	var errs []error
	for i := len(d.stopFuncs) - 1; i >= 0; i-- {
		if err := d.stopFuncs[i](); err != nil {
			errs = append(errs, err)
		}
	}
	d.stopFuncs = nil
	return errs
}

func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, ">> "+format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	var err error
	if d.root, err = testenv.RepoRoot(); err != nil {
		return err
	}
	d.work = d.opts.work
	if d.work == "" {
		d.work = filepath.Join(d.root, "_output", "demo")
	}
	if err := os.RemoveAll(d.work); err != nil {
		return err
	}
	if err := os.MkdirAll(d.work, 0o755); err != nil {
		return err
	}
	if err := d.buildSyncd(ctx); err != nil {
		return err
	}
	d.step("starting a local SSH Git server (OpenSSH sshd on 127.0.0.1)")
	if d.git, err = testenv.StartGitServer(); err != nil {
		return err
	}
	d.onStop(d.git.Stop)
	if err := d.seedFleet(); err != nil {
		return err
	}
	d.promoter = d.detectPromoter(ctx)
	for i, name := range d.opts.sites {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.startSite(ctx, name, i == 0 && strings.HasPrefix(d.promoter, promoterRuns)); err != nil {
			return err
		}
	}
	if d.promoter == promoterInProcess {
		pctx, cancel := context.WithCancel(ctx)
		done, err := d.runPromoter(pctx, d.opts.interval)
		if err != nil {
			cancel()
			return err
		}
		d.onStop(func() error { cancel(); <-done; return nil })
	}
	d.instr = d.instructions()
	if err := os.WriteFile(filepath.Join(d.work, "INSTRUCTIONS.txt"), []byte(d.instr), 0o644); err != nil {
		return err
	}
	fmt.Fprint(d.out, d.instr)
	return d.watch(ctx)
}

// buildSyncd builds cmd/syncd into a temporary directory.
func (d *demo) buildSyncd(ctx context.Context) error {
	var err error
	if d.binDir, err = os.MkdirTemp("", "syncd-demo-bin-"); err != nil {
		return err
	}
	d.onStop(func() error { return os.RemoveAll(d.binDir) })
	d.syncd = filepath.Join(d.binDir, "syncd")
	d.step("building syncd: go build -o %s ./cmd/syncd", d.syncd)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", d.syncd, "./cmd/syncd")
	cmd.Dir = d.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/syncd: %w\n%s", err, out)
	}
	return nil
}

// seedFleet pushes a copy of examples/fleet-repo with demo timing.
func (d *demo) seedFleet() error {
	if _, err := d.git.CreateRepo("fleet.git", "main"); err != nil {
		return err
	}
	d.seed = filepath.Join(d.work, "fleet-seed")
	if err := os.CopyFS(d.seed, os.DirFS(filepath.Join(d.root, "examples", "fleet-repo"))); err != nil {
		return err
	}
	if err := demoTiming(d.seed, d.opts.stage); err != nil {
		return err
	}
	if err := d.makeKeys(); err != nil {
		return err
	}
	if err := d.startRegistry(); err != nil {
		return err
	}
	n, err := d.images.publish(d.seed)
	if err != nil {
		return err
	}
	d.step("pushed and cosign-signed the fleet's %d images; %s declares signing: {keys: [%s]}, so each site verifies its images and runs the verified digests", n, signedProduct.Name, signedProduct.Key)
	d.step("pushing examples/fleet-repo as fleet.git, in demo time: in the demo's copy only, timed stages and canary soaks last %s and there are no maintenance windows and no ramp", shortDuration(d.opts.stage))
	if err := d.gitIn(d.seed, "init", "--quiet", "--initial-branch=main"); err != nil {
		return err
	}
	if err := d.commitAndPush("example fleet (demo timing: stages and soaks " + shortDuration(d.opts.stage) + ", no maintenance windows, no ramp)"); err != nil {
		return err
	}
	d.url = d.git.URL("fleet.git")
	return nil
}

// commitAndPush commits every change of the demo's copy, signed with the
// release key, and pushes it.
func (d *demo) commitAndPush(msg string) error {
	for _, args := range [][]string{
		{"add", "-A"},
		append(d.trust.signFlags(), "commit", "--quiet", "-S", "-m", msg),
		{"push", "--quiet", d.git.URL("fleet.git"), "HEAD:main"},
	} {
		if err := d.gitIn(d.seed, args...); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) gitIn(dir string, args ...string) error {
	env := []string{"GIT_SSH_COMMAND=" + d.git.GitSSHCommand(d.git.DeployKey.PrivatePath),
		"GIT_AUTHOR_NAME=release bot", "GIT_COMMITTER_NAME=release bot"}
	_, err := testenv.RunGit(dir, env, args...)
	return err
}

// gitFlags are the flags that reach the fleet repo.
func (d *demo) gitFlags() []string {
	return []string{"--repo", d.url, "--identity", d.git.DeployKey.PrivatePath, "--known-hosts", d.git.KnownHosts}
}

// detectPromoter says how the promoter runs in this build of syncd: "syncd
// run --promote" when the daemon has the flag and `syncd promote --once
// --dry-run` works, or why it does not run.
func (d *demo) detectPromoter(ctx context.Context) string {
	if !d.opts.promote {
		return "off (-promote=false)"
	}
	help, _ := exec.CommandContext(ctx, d.syncd, "run", "--help").CombinedOutput()
	if !strings.Contains(string(help), "--promote") {
		return promoterInProcess
	}
	args := append([]string{"promote", "--once", "--dry-run", "--cache-dir", filepath.Join(d.work, "promote-probe")}, d.gitFlags()...)
	out, err := exec.CommandContext(ctx, d.syncd, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("not working in this build of syncd (`syncd promote --once --dry-run`: %v: %s): commit channel bumps yourself", err, firstLine(string(out)))
	}
	return promoterRuns + ", in the daemon of site " + d.opts.sites[0]
}

// promoterOn reports whether a promoter runs: in the first site's daemon or
// in the demo process.
func (d *demo) promoterOn() bool {
	return strings.HasPrefix(d.promoter, promoterRuns) || d.promoter == promoterInProcess
}

// promoterRuns starts the description of a running promoter.
const promoterRuns = "syncd run --promote"

// startSite starts a site's cluster and its syncd daemon.
func (d *demo) startSite(ctx context.Context, name string, promote bool) error {
	s := &site{name: name, dir: filepath.Join(d.work, name), channel: siteChannel(d.seed, name)}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	what := "etcd, kube-apiserver"
	if d.opts.workloads {
		what += ", controller-manager, scheduler, kwok fake node"
	}
	d.step("site %s (channel %s): starting its own cluster: %s", name, s.channel, what)
	var err error
	s.cluster, err = testenv.StartCluster(ctx, testenv.ClusterOptions{Full: d.opts.workloads, LogDir: s.dir})
	if err != nil {
		return fmt.Errorf("site %s: %w", name, err)
	}
	d.onStop(s.cluster.Stop)
	args := append([]string{"run", "--site", name,
		"--kubeconfig", s.cluster.Kubeconfig, "--cache-dir", filepath.Join(s.dir, "cache"),
		"--interval", d.opts.interval.String(), "--health-timeout", "60s", "--listen", "127.0.0.1:0"}, d.gitFlags()...)
	args = append(args, d.trust.siteFlags(name)...)
	if promote {
		args = append(args, "--promote")
	}
	s.log = filepath.Join(s.dir, "syncd.log")
	d.step("site %s: syncd run --site %s --interval %s --verify-commits ... --signing-key ...%s (log: %s)", name, name, d.opts.interval, map[bool]string{true: " --promote"}[promote], s.log)
	if err := os.WriteFile(filepath.Join(s.dir, "syncd.cmdline"), []byte(d.syncd+" "+strings.Join(args, " ")+"\n"), 0o644); err != nil {
		return err
	}
	if s.syncd, err = testenv.StartProcess("syncd "+name, d.syncd, args, s.log); err != nil {
		return err
	}
	d.onStop(func() error { return s.syncd.Stop(15 * time.Second) })
	d.sites = append(d.sites, s)
	return nil
}

// siteChannel reads the site's channel from the demo's copy of the fleet.
func siteChannel(fleetDir, name string) string {
	repo, _ := fleet.Load(os.DirFS(fleetDir))
	if repo == nil || repo.Sites[name] == nil {
		return "?"
	}
	return repo.Sites[name].Spec.Channel
}

// instructions is the block printed once at the top, on Enter and kept in
// INSTRUCTIONS.txt.
func (d *demo) instructions() string {
	var b strings.Builder
	bin, _ := testenv.BinDir()
	rule := strings.Repeat("─", 78) + "\n"
	b.WriteString("\n" + rule)
	fmt.Fprintf(&b, "syncd demo: %d site(s), each with its own API server and its own `syncd run`, one fleet repo over SSH.\n\n", len(d.sites))
	for _, s := range d.sites {
		fmt.Fprintf(&b, "  site %s (channel %s)\n", s.name, s.channel)
		fmt.Fprintf(&b, "    export KUBECONFIG=%s\n", s.cluster.Kubeconfig)
		fmt.Fprintf(&b, "    %s/kubectl get deploy,ds,svc,cm -A -l syncd.dev/site=%s\n", bin, s.name)
		fmt.Fprintf(&b, "    syncd log: %s\n", s.log)
	}
	fmt.Fprintf(&b, "\n  promoter: %s\n", d.promoter)
	fmt.Fprintf(&b, "  images: registry %s, signed with a cosign key generated by the demo (keys/%s.pub in the demo's copy);\n", d.images.reg.Host, signedProduct.Key)
	fmt.Fprintf(&b, "    %s verifies them: kubectl get ds -n %s -o jsonpath='{..image}' shows the verified digest\n", signedProduct.Name, signedProduct.Namespace)
	fmt.Fprintf(&b, "  demo timing (demo copy only; examples/fleet-repo is unchanged): timed stages and canary soaks %s, no maintenance windows, no ramp\n", shortDuration(d.opts.stage))
	fmt.Fprintf(&b, "  commits: every site applies only a head signed by a key of %s (the release key, the promoter's);\n", d.trust.allowedSigners)
	b.WriteString("    each site signs its status report with the key of its sites/<site>/site.pub\n")
	b.WriteString("\nChange the fleet with git, as people do, signing with the release key:\n\n")
	fmt.Fprintf(&b, "  export GIT_SSH_COMMAND=%q\n", d.git.GitSSHCommand(d.git.DeployKey.PrivatePath))
	fmt.Fprintf(&b, "  git clone %s /tmp/fleet && cd /tmp/fleet\n", d.url)
	fmt.Fprintf(&b, "  git config gpg.format ssh && git config user.signingkey %s && git config commit.gpgsign true\n", d.trust.release.PrivatePath)
	b.WriteString("  # e.g. edit channels/auth-service.yaml (dev: 5.1.1 -> 5.2.0, a recalled release: see the note), or a replica count\n")
	b.WriteString("  git commit -am \"bump\" && git push\n")
	b.WriteString("  # an unsigned commit (git commit --no-gpg-sign) is not applied: syncd status says why, the sites stay where they are\n")
	b.WriteString("\nWatch:\n\n")
	b.WriteString("  this terminal                  prints what changes: commits, branches, each site's versions and health\n")
	fmt.Fprintf(&b, "  export SYNCD_REPO=%s SYNCD_IDENTITY=%s SYNCD_KNOWN_HOSTS=%s\n", d.url, d.git.DeployKey.PrivatePath, d.git.KnownHosts)
	fmt.Fprintf(&b, "  %s fleet status      # products x sites, from the status branches\n", d.syncd)
	fmt.Fprintf(&b, "  %s fleet serve       # the same as a web page, http://127.0.0.1:8080/ (read-only)\n", d.syncd)
	b.WriteString("  git pull -q && git log --oneline main       # releases and promotions are commits\n")
	fmt.Fprintf(&b, "  git ls-remote %s 'refs/heads/syncd/status/*'   # one status branch per site\n", d.url)
	fmt.Fprintf(&b, "  KUBECONFIG=<a site's> %s status --site <site>\n", d.syncd)
	fmt.Fprintf(&b, "\nPress Enter to print this again (also in %s). Ctrl-C stops every process.\n", filepath.Join(d.work, "INSTRUCTIONS.txt"))
	b.WriteString(rule)
	return b.String()
}

// watch prints what changes in the fleet repo until ctx ends, the ready line
// once every site has reported, and ships the demo release then.
func (d *demo) watch(ctx context.Context) error {
	lines := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case lines <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	gitDir := d.git.RepoPath("fleet.git")
	cache := map[string]siteView{}
	var prev fleetView
	shownErr := map[string]bool{}
	ready, released := false, !d.opts.release
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		next, errs, err := readFleet(gitDir, cache, d.trust)
		if err != nil {
			return fmt.Errorf("reading the fleet repo: %w", err)
		}
		for _, e := range errs {
			if !shownErr[e] {
				d.event("cannot read a status report: " + e)
				shownErr[e] = true
			}
		}
		if prev.Branches != nil {
			if from, to := prev.Branches["main"], next.Branches["main"]; from != to {
				commits, err := newCommits(gitDir, from, to)
				if err != nil {
					return err
				}
				for _, c := range commits {
					d.event("main: commit " + c)
				}
			}
			for _, l := range branchChanges(prev.Branches, next.Branches, "main") {
				d.event(l)
			}
		}
		for _, l := range reportChanges(prev.Sites, next.Sites) {
			d.event(l)
		}
		prev = next
		for _, s := range d.sites {
			if s.syncd.Exited() {
				return fmt.Errorf("syncd of site %s exited: %v; its log %s ends:\n%s", s.name, s.syncd.Err(), s.log, tail(s.log, 15))
			}
		}
		if !ready && len(next.Sites) >= len(d.sites) {
			ready = true
			for _, s := range d.sites {
				d.event(fmt.Sprintf("site %s: %s", s.name, signedImages(ctx, s)))
				d.event(fmt.Sprintf("site %s: %s", s.name, commitVerification(ctx, s)))
			}
			fmt.Fprintf(d.out, "%s every site has reported (%d); press Enter for the instructions, Ctrl-C to stop\n", readyLine, len(d.sites))
			if d.opts.exit {
				return nil
			}
		}
		if ready && !released {
			released = true
			if err := d.shipRelease(); err != nil {
				d.event("could not ship the demo release: " + err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lines:
			fmt.Fprint(d.out, d.instr)
		case <-tick.C:
		}
	}
}

// shipRelease commits the demo release to dev, as a release engineer would.
func (d *demo) shipRelease() error {
	r := theRelease
	next := fmt.Sprintf("the promoter moves it to staging once it has been on dev for %s", shortDuration(d.opts.stage))
	if !d.promoterOn() {
		next = "no promoter runs: move it to staging yourself (channels/" + r.Product + ".yaml)"
	}
	d.event(fmt.Sprintf("shipping %s %s to dev (a copy of %s, labeled qa: passed); %s", r.Product, r.Version, r.From, next))
	if err := d.gitIn(d.seed, "pull", "--quiet", "--rebase", d.url, "main"); err != nil {
		return err
	}
	if err := addRelease(d.seed, r); err != nil {
		return err
	}
	n, err := d.images.publish(d.seed)
	if err != nil {
		return err
	}
	d.event(fmt.Sprintf("pushed and cosign-signed %d new image(s) of the release", n))
	return d.commitAndPush(fmt.Sprintf("release %s %s to dev", r.Product, r.Version))
}

func (d *demo) event(s string) {
	fmt.Fprintf(d.out, "%s  %s\n", time.Now().Format("15:04:05"), s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// logFile opens path for a log, or discards the log when it cannot.
func logFile(path string) io.Writer {
	f, err := os.Create(path)
	if err != nil {
		return io.Discard
	}
	return f
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
