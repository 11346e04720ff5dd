package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestInterruptLeavesNoProcess starts the demo binary with one site, waits
// until it says every site has reported, sends SIGINT as Ctrl-C does, and
// checks that every process it had started (etcd, kube-apiserver, the
// control-plane components, kwok, sshd and syncd) is gone.
func TestInterruptLeavesNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane, sshd and syncd")
	}
	if _, err := testenv.BinDir(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "demo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build ./hack/demo: %v\n%s", err, out)
	}
	scratch := filepath.Join(tmp, "scratch")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-sites", "edge-store-042", "-release=false", "-work", filepath.Join(tmp, "work"))
	// Every temporary directory of the demo (envtest's, sshd's, the syncd
	// build) lands in scratch, so a process left behind is found by its
	// command line even if the demo lost track of it.
	cmd.Env = append(os.Environ(), "TMPDIR="+scratch)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out strings.Builder
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), readyLine) && !closed {
				close(ready)
				closed = true
			}
		}
		done <- cmd.Wait()
	}()
	var started []proc
	t.Cleanup(func() {
		// Only when the test failed half-way: leave nothing running.
		_ = cmd.Process.Kill()
		for _, p := range started {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
	})

	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("demo exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	case <-time.After(8 * time.Minute):
		t.Fatalf("demo not ready after 8 minutes\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	if !strings.Contains(out.String(), "cosign signature verified, digest pinned") {
		t.Errorf("the demo's signed product does not run verified images:\n%s", out.String())
	}
	// The site verifies the fleet repo's head, signed with the demo's
	// release key or, once the promoter committed, with the promoter's.
	verified := regexp.MustCompile(`site edge-store-042: commit verification: head [0-9a-f]+ verified, signed by (` +
		regexp.QuoteMeta(releaseSigner) + `|promoter@edge-store-042) \(SHA256:`)
	if !verified.MatchString(out.String()) {
		t.Errorf("the demo's site does not say it verified the head's signature:\n%s", out.String())
	}
	// Its report is read only when signed with the key of its site.pub: the
	// ready line above needs it, and no report was ignored.
	if strings.Contains(out.String(), "cannot read a status report") {
		t.Errorf("a status report was not read (unsigned, or signed by another key than site.pub?):\n%s", out.String())
	}
	started = descendants(cmd.Process.Pid)
	for _, want := range []string{"etcd", "kube-apiserver", "kube-controller", "kube-scheduler", "kwok", "sshd", "syncd"} {
		if !hasComm(started, want) {
			t.Errorf("no %s among the demo's processes %v", want, started)
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo after SIGINT: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("demo still running 3 minutes after SIGINT\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	for _, p := range started {
		if p.stillRunning() {
			t.Errorf("%s (pid %d) still runs after the demo exited", p.comm, p.pid)
		}
	}
	for _, pid := range pidsWithArgument(scratch) {
		if testenv.Running(pid) {
			t.Errorf("pid %d still runs with %s on its command line", pid, scratch)
		}
	}
	if !strings.Contains(out.String(), ">> stopped: no process of the demo is left") {
		t.Errorf("demo did not say it stopped cleanly:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
}

// proc is a process seen in /proc, identified by pid and start time (so a
// reused pid is not mistaken for it).
type proc struct {
	pid, ppid int
	comm      string
	start     string
}

func (p proc) String() string { return fmt.Sprintf("%s(%d)", p.comm, p.pid) }

func (p proc) stillRunning() bool {
	now, ok := readProc(p.pid)
	return ok && now.start == p.start && testenv.Running(p.pid)
}

// readProc reads pid's command name, parent and start time.
func readProc(pid int) (p proc, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return p, false
	}
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return p, false
	}
	f := strings.Fields(s[end+1:])
	// After the command: state, ppid, ...; starttime is field 22 of stat.
	if len(f) < 20 {
		return p, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return proc{pid: pid, ppid: ppid, comm: s[open+1 : end], start: f[19]}, true
}

// descendants lists every process below root.
func descendants(root int) []proc {
	children := map[int][]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if !ok {
			continue
		}
		children[p.ppid] = append(children[p.ppid], p)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

func hasComm(ps []proc, prefix string) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.comm, prefix) {
			return true
		}
	}
	return false
}

// pidsWithArgument returns the pids whose command line contains s.
func pidsWithArgument(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}
