package gitsource

// Benchmarks for `make bench` (not run by `go test`): a generated fleet repo
// of SYNCD_BENCH_COMMITS commits (default 10,000) over SYNCD_BENCH_FILES files
// (default 20,000) on the real sshd, and each measurement beside the git
// command line doing the same over the same sshd. Run one benchmark per
// process so that peak-RSS-MB (the process's high-water mark, or the git
// child's) is its own:
//
//	go test -run '^$' -bench 'BenchmarkFirstClone/syncd$' -benchtime 1x ./internal/gitsource/

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// benchRepo is a generated repository on a server, and an SSH environment
// for the git command line.
type benchRepo struct {
	f   *fixture
	url string
	env []string
}

func benchSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// newBenchRepo generates the repository with git fast-import: one commit
// adding every file, then commits that each change one file, as promotions do.
func newBenchRepo(b *testing.B) *benchRepo {
	b.Helper()
	commits, files := benchSize("SYNCD_BENCH_COMMITS", 10000), benchSize("SYNCD_BENCH_FILES", 20000)
	srv := testenv.NewGitServer(b)
	bare, err := srv.CreateRepo("fleet.git", "main")
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(in)
	file := func(i int) string { return fmt.Sprintf("products/p%03d/releases/1.0.%d/obj%05d.yaml", i%200, i%7, i) }
	for c := range commits {
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter bench <bench@syncd.dev> %d +0000\n", 1700000000+c)
		msg := fmt.Sprintf("change %d", c)
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		if c == 0 {
			for i := range files {
				content := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: obj%05d}\ndata: {n: \"%d\"}\n", i, i)
				fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", file(i), len(content), content)
			}
			continue
		}
		content := fmt.Sprintf("spec: {dev: 1.0.%d}\n", c)
		fmt.Fprintf(w, "M 100644 inline channels/p%03d.yaml\ndata %d\n%s\n", c%200, len(content), content)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	_ = in.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("git fast-import: %v", err)
	}
	testenv.Git(b, bare, "repack", "-a", "-d", "--quiet")
	f := &fixture{srv: srv, name: "fleet.git", url: srv.URL("fleet.git")}
	return &benchRepo{f: f, url: f.url, env: []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}}
}

func (r *benchRepo) source(b *testing.B) *Source {
	s, err := New(Options{URL: r.url, IdentityFile: r.f.srv.DeployKey.PrivatePath, KnownHostsFile: r.f.srv.KnownHosts, CacheDir: b.TempDir(), Timeout: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// git runs the git command line and returns its child's peak RSS in MB.
func (r *benchRepo) git(b *testing.B, dir string, args ...string) float64 {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), r.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
}

// pushOne adds one commit on the server (outside the timer).
func (r *benchRepo) pushOne(b *testing.B, n int) {
	bare := r.f.srv.RepoPath(r.f.name)
	tree := testenv.Git(b, bare, "rev-parse", "main^{tree}")
	c, err := testenv.RunGit(bare, nil, "commit-tree", tree, "-p", "main", "-m", fmt.Sprintf("bench %d", n))
	if err != nil {
		b.Fatal(err)
	}
	testenv.Git(b, bare, "update-ref", "refs/heads/main", c)
}

func selfPeakRSS() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func BenchmarkFirstClone(b *testing.B) {
	r := newBenchRepo(b)
	b.Run("syncd", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := r.source(b).Fetch(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(selfPeakRSS(), "peak-RSS-MB")
	})
	b.Run("git", func(b *testing.B) {
		var rss float64
		for b.Loop() {
			rss = max(rss, r.git(b, b.TempDir(), "clone", "--quiet", "--bare", r.url, "c.git"))
		}
		b.ReportMetric(rss, "peak-RSS-MB")
	})
}

func BenchmarkNoChangeCheck(b *testing.B) {
	r := newBenchRepo(b)
	b.Run("syncd", func(b *testing.B) {
		s := r.source(b)
		if _, _, err := s.Fetch(context.Background()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, changed, err := s.Fetch(context.Background()); err != nil || changed {
				b.Fatalf("Fetch = changed %v, %v", changed, err)
			}
		}
	})
	b.Run("git", func(b *testing.B) {
		dir := b.TempDir()
		r.git(b, dir, "clone", "--quiet", "--bare", r.url, "c.git")
		for b.Loop() {
			r.git(b, filepath.Join(dir, "c.git"), "fetch", "--quiet", "origin", "+refs/heads/main:refs/heads/main")
		}
	})
}

func BenchmarkIncrementalFetch(b *testing.B) {
	r := newBenchRepo(b)
	n := 0
	b.Run("syncd", func(b *testing.B) {
		s := r.source(b)
		if _, _, err := s.Fetch(context.Background()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			n++
			r.pushOne(b, n)
			b.StartTimer()
			if _, changed, err := s.Fetch(context.Background()); err != nil || !changed {
				b.Fatalf("Fetch = changed %v, %v", changed, err)
			}
		}
	})
	b.Run("git", func(b *testing.B) {
		dir := b.TempDir()
		r.git(b, dir, "clone", "--quiet", "--bare", r.url, "c.git")
		for b.Loop() {
			b.StopTimer()
			n++
			r.pushOne(b, n)
			b.StartTimer()
			r.git(b, filepath.Join(dir, "c.git"), "fetch", "--quiet", "origin", "+refs/heads/main:refs/heads/main")
		}
	})
}
