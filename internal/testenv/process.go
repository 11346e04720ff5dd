package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a child process whose output goes to a log file. It leads its
// own process group, so that stopping it stops what it started too, and it
// dies with its parent (Pdeathsig) if nobody stops it.
type Process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// StartProcess runs path with args, logging stdout and stderr to logPath,
// with env added to this process's environment.
func StartProcess(name, path string, args []string, logPath string, env ...string) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig fires when the OS thread that forked the child exits; the Go
	// runtime keeps its threads, so in practice it fires when this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id, also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited, once Done is closed.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the process to exit.
func (p *Process) Stop(grace time.Duration) error {
	if p == nil || p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// tail returns the last lines of the process log, for error messages.
func (p *Process) tail() string {
	return tailFile(p.log, 20)
}

func tailFile(path string, n int) string {
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

// reaper records the process groups a test binary starts through envtest
// (which does not set Pdeathsig), so that the next run kills those a crashed
// binary left behind.
type reaper struct{ dir string }

func newReaper() reaper {
	return reaper{dir: filepath.Join(os.TempDir(), "syncd-testenv-pids")}
}

// record notes that the current process owns the process group pgid.
func (r reaper) record(pgid int) {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return
	}
	name := fmt.Sprintf("%d-%d", os.Getpid(), pgid)
	_ = os.WriteFile(filepath.Join(r.dir, name), nil, 0o644)
}

// forget drops the record of pgid after a clean stop.
func (r reaper) forget(pgid int) {
	_ = os.Remove(filepath.Join(r.dir, fmt.Sprintf("%d-%d", os.Getpid(), pgid)))
}

// reap kills the recorded groups whose owner is no longer alive.
func (r reaper) reap() {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		owner, pgid, ok := strings.Cut(e.Name(), "-")
		if !ok {
			continue
		}
		ownerPID, err1 := strconv.Atoi(owner)
		group, err2 := strconv.Atoi(pgid)
		if err := errors.Join(err1, err2); err != nil || alive(ownerPID) {
			continue
		}
		_ = syscall.Kill(-group, syscall.SIGKILL)
		_ = os.Remove(filepath.Join(r.dir, e.Name()))
	}
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// Running reports whether pid is a live process: it exists and is not a
// zombie waiting for its parent.
func Running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return alive(pid)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// killGroups sends SIGKILL to the process groups led by pids that still run
// and waits up to timeout for them to be gone.
func killGroups(pids []int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, pid := range pids {
		if !Running(pid) {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for Running(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d did not exit after SIGKILL", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// pidsWithArgument returns the pids of processes whose command line contains s.
func pidsWithArgument(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}
