// Command bench measures syncd against the tools people would otherwise use,
// on this machine, against the real API server and sshd of internal/testenv,
// and prints the figures. It asserts nothing: numbers are for reading.
//
//	go run ./hack/bench [-products 500] [-only reconcile|git|conflicts|daemon|promote|verify]
//	go run ./hack/bench -only memory [-memory-products 500,2000] [-profile-dir DIR]
//	go run ./hack/bench -only flux -flux-bin DIR -flux-crds 'DIR...'   (make bench-flux)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if op := os.Getenv(fetchChildEnv); op != "" {
		runFetchChild(op)
	}
	if os.Getenv(wrapChildEnv) != "" {
		runWrapChild()
	}
	products := flag.Int("products", 500, "products in the generated site (4 objects each)")
	only := flag.String("only", "", "run only this section: reconcile, git, conflicts, daemon, memory, promote, verify, or flux (never run otherwise)")
	daemonModes := flag.String("daemon-modes", "poll,webhook", "modes of the daemon section: poll, webhook or both")
	daemonProfile := flag.String("daemon-profile", "", "daemon section: write a 30 s CPU profile of each mode's daemon (started with --pprof) into this directory")
	pushes := flag.Int("pushes", 20, "pushes to time per mode in the daemon section")
	commits := flag.Int("commits", 10000, "commits in the generated Git repo")
	files := flag.Int("files", 20000, "files in the generated Git repo")
	edits := flag.Int("edits", 100, "out-of-band edits to time in the conflicts section")
	idle := flag.Duration("idle", time.Minute, "idle period over which the daemon's API requests are counted")
	promoteProducts := flag.Int("promote-products", 100, "products of the fleet in the promote section")
	promoteSites := flag.Int("promote-sites", 200, "sites (status branches) of the fleet in the promote section")
	images := flag.Int("images", 200, "signed images (one product each) in the verify section")
	fluxBin := flag.String("flux-bin", "", "flux section: directory holding source-controller and kustomize-controller (`make bench-flux` builds them)")
	fluxCRDs := flag.String("flux-crds", "", "flux section: space-separated directories of Flux CRDs (config/crd/bases of both modules)")
	memoryProducts := flag.String("memory-products", "500,2000", "memory section: site sizes in products (4 objects each), comma-separated")
	memoryPolls := flag.Int("memory-polls", 20, "memory section: seconds of 1 s polls after the first sync before the second sample")
	profileDir := flag.String("profile-dir", "", "memory section: keep the daemon's heap profiles here (heap-<objects>.pb.gz)")
	flag.Parse()
	ctx := context.Background()
	syncd, err := filepath.Abs("bin/syncd")
	if err != nil {
		fail(err)
	}
	// The flux section runs only when asked for: it needs Flux built.
	if *only == "flux" {
		if _, err := os.Stat(syncd); err != nil {
			fail(fmt.Errorf("%s not found: run `make build` first", syncd))
		}
		fc := fluxConfig{bin: *fluxBin, crdDirs: strings.Fields(*fluxCRDs), pushes: *pushes, edits: *edits}
		if err := benchFlux(ctx, syncd, *products, fc); err != nil {
			fail(err)
		}
		return
	}
	// The sections that run syncd as a process need it built.
	if *only == "" || *only == "reconcile" || *only == "daemon" || *only == "memory" || *only == "promote" {
		if _, err := os.Stat(syncd); err != nil {
			fail(fmt.Errorf("%s not found: run `make build` first", syncd))
		}
	}
	if *only == "" || *only == "reconcile" {
		if err := benchReconcile(ctx, syncd, *products); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "git" {
		if err := benchGit(ctx, *commits, *files); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "conflicts" {
		if err := benchConflicts(ctx, *products, *edits, *idle); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "daemon" {
		if err := benchDaemon(ctx, syncd, *products, *pushes, *idle, *daemonModes, *daemonProfile); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "memory" {
		sizes, err := parseSizes(*memoryProducts)
		if err != nil {
			fail(err)
		}
		if err := benchMemory(ctx, syncd, sizes, *memoryPolls, *profileDir); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "promote" {
		if err := benchPromote(ctx, syncd, *promoteProducts, *promoteSites); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "verify" {
		if err := benchVerify(ctx, *images); err != nil {
			fail(err)
		}
	}
}

// parseSizes parses a comma-separated list of positive integers.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// run is one measured command.
type run struct {
	name   string
	wall   time.Duration
	maxRSS int64 // KiB
	cpu    time.Duration
}

// measure runs a command and records its wall time, CPU time and peak RSS.
func measure(name string, cmd *exec.Cmd) (run, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return run{}, fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 15))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return run{name: name, wall: wall, maxRSS: ru.Maxrss, cpu: cpu}, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func newTable() *tabwriter.Writer {
	return tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
}

// table prints rows of measured runs.
func table(title string, rows []run, extra func(run) string) {
	fmt.Printf("\n%s\n", title)
	w := newTable()
	fmt.Fprintln(w, "step\twall\tcpu\tpeak RSS\t\t")
	for _, r := range rows {
		e := ""
		if extra != nil {
			e = extra(r)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d MiB\t%s\t\n", r.name, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.maxRSS/1024, e)
	}
	w.Flush()
}
