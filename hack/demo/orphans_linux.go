package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// adoptOrphans makes this process the reaper of its descendants
// (PR_SET_CHILD_SUBREAPER): a process whose parent dies is handed to the
// demo, not to init, so that the demo can still stop it.
func adoptOrphans() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// killChildren kills, with their process groups, the processes still
// running whose parent is this process, until none is left or timeout
// passes, and returns the pids it had to kill. Everything the demo started
// has normally been stopped already; this is the last line of defence.
func killChildren(timeout time.Duration) []string {
	var killed []string
	// Orphans adopted from sshd (a session serving git-upload-pack to a
	// syncd that was stopped first) end by themselves once their connection
	// is gone: give them a moment, reaping them, before killing anything.
	for grace := time.Now().Add(5 * time.Second); time.Now().Before(grace) && len(runningChildren(os.Getpid())) > 0; {
		reapZombies()
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		children := runningChildren(os.Getpid())
		if len(children) == 0 {
			break
		}
		for _, pid := range children {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = append(killed, fmt.Sprintf("%d (%s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
		}
		reapZombies()
		time.Sleep(50 * time.Millisecond)
	}
	return killed
}

// reapZombies waits for every child that has exited: nobody else waits for
// adopted orphans.
func reapZombies() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// runningChildren lists the running (not zombie) children of parent.
func runningChildren(parent int) []int {
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
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		if testenv.Running(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
