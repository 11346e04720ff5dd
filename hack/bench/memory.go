package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// memSample is a daemon's memory at one moment: from /proc/PID/status
// (KiB) and the Go heap in use from its heap profile.
type memSample struct {
	rss, anon, file int64  // VmRSS, RssAnon, RssFile
	heap            string // inuse_space total, as pprof prints it
	// From runtime.MemStats (bytes): the heap's spans in use, the heap
	// memory held but free (idle less released to the OS), and all the
	// Go runtime obtained from the OS.
	heapInuse, heapFree, sys int64
}

func (s memSample) String() string {
	return fmt.Sprintf("%d MiB (anon %d, file %d), Go heap: live %s, spans in use %d MiB, free not returned %d MiB, runtime total %d MiB",
		s.rss/1024, s.anon/1024, s.file/1024, s.heap, s.heapInuse>>20, s.heapFree>>20, s.sys>>20)
}

// benchMemory runs `syncd run --interval 1s` on a fresh API server for each
// site size (products × 4 objects) and reports its resident set once the
// first sync is done and after polls that find nothing new, with the Go heap
// in use (pprof). With profileDir set it keeps each heap profile there
// (heap-<objects>.pb.gz) for `go tool pprof -top`.
func benchMemory(ctx context.Context, syncd string, sizes []int, polls int, profileDir string) error {
	srv, err := testenv.StartGitServer()
	if err != nil {
		return err
	}
	defer srv.Stop()
	work, err := os.MkdirTemp("", "syncd-bench-memory-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Printf("\nmemory: `syncd run --interval 1s` managing a generated site, repo over OpenSSH, on a fresh API server; RSS after the first sync and after %d no-op polls\n", polls)
	var row []string
	for _, n := range sizes {
		first, idle, err := daemonMemory(ctx, syncd, srv, work, n, polls, profileDir)
		if err != nil {
			return fmt.Errorf("%d objects: %w", 4*n, err)
		}
		fmt.Printf("  %5d objects  first sync: %s\n", 4*n, first)
		fmt.Printf("  %5d objects  after polls: %s\n", 4*n, idle)
		row = append(row, fmt.Sprintf("%d MiB at %d", idle.rss/1024, 4*n))
	}
	fmt.Printf("  RSS managing %s objects\n", strings.Join(row, ", "))
	return nil
}

// daemonMemory measures one daemon on a site of n products.
func daemonMemory(ctx context.Context, syncd string, srv *testenv.GitServer, work string, n, polls int, profileDir string) (first, idle memSample, err error) {
	repo := filepath.Join(work, fmt.Sprintf("fleet-%d", n))
	if err := generateFleet(repo, n); err != nil {
		return first, idle, err
	}
	name := fmt.Sprintf("fleet-%d.git", n)
	if _, err := srv.CreateRepo(name, "main"); err != nil {
		return first, idle, err
	}
	git := gitIn(repo, srv)
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"add", "-A"}, {"commit", "--quiet", "-m", "fleet"}, {"push", "--quiet", srv.URL(name), "main"}} {
		if err := git(args...); err != nil {
			return first, idle, err
		}
	}
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return first, idle, err
	}
	defer c.Stop()
	listen, pprofAddr := freeListen(), freeListen()
	logPath := filepath.Join(work, fmt.Sprintf("syncd-%d.log", n))
	p, err := testenv.StartProcess("syncd run", syncd, []string{"run", "--site", "bench", "--repo", srv.URL(name),
		"--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts, "--kubeconfig", c.Kubeconfig,
		"--cache-dir", filepath.Join(work, fmt.Sprintf("cache-%d", n)), "--listen", listen, "--pprof", pprofAddr,
		"--interval", "1s", "--health-timeout", "0s"}, logPath)
	if err != nil {
		return first, idle, err
	}
	defer p.Stop(10 * time.Second)
	if err := waitReady(listen, 10*time.Minute); err != nil {
		return first, idle, fmt.Errorf("syncd run: %w (log %s)", err, logPath)
	}
	sample := func(profile string) (memSample, error) {
		s := procMemory(p.Pid())
		heap, err := heapInUse(ctx, pprofAddr, profile)
		s.heap = heap
		if err != nil {
			return s, err
		}
		return s, memStats(pprofAddr, &s)
	}
	if first, err = sample(""); err != nil {
		return first, idle, err
	}
	time.Sleep(time.Duration(polls) * time.Second)
	keep := ""
	if profileDir != "" {
		keep = filepath.Join(profileDir, fmt.Sprintf("heap-%d.pb.gz", 4*n))
	}
	idle, err = sample(keep)
	return first, idle, err
}

// heapInUse fetches the daemon's heap profile, keeps it at keep when set,
// and returns the total in use as `go tool pprof -top` reports it.
func heapInUse(ctx context.Context, addr, keep string) (string, error) {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp("", "syncd-heap-*.pb.gz")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	if keep != "" {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(keep, data, 0o644); err != nil {
			return "", err
		}
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", f.Name()).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w\n%s", err, out)
	}
	// "Showing nodes accounting for X, Y% of Z total"
	for _, line := range strings.Split(string(out), "\n") {
		if i := strings.Index(line, " of "); i >= 0 && strings.HasSuffix(line, " total") {
			return strings.TrimSuffix(line[i+len(" of "):], " total"), nil
		}
	}
	return "?", nil
}

// memStats reads the runtime.MemStats that /debug/pprof/heap?debug=1 ends
// with into s.
func memStats(addr string, s *memSample) error {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	stat := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = "); ok {
			stat[k], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	s.heapInuse, s.heapFree, s.sys = stat["HeapInuse"], stat["HeapIdle"]-stat["HeapReleased"], stat["Sys"]
	return nil
}

// procMemory reads a process's VmRSS, RssAnon and RssFile (KiB).
func procMemory(pid int) memSample {
	var s memSample
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || len(strings.Fields(v)) == 0 {
			continue
		}
		kib, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = kib
		case "RssAnon":
			s.anon = kib
		case "RssFile":
			s.file = kib
		}
	}
	return s
}
