package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// fetchChildEnv makes the bench binary act as a one-shot fetcher, so its peak
// RSS is measured alone: SYNCD_BENCH_FETCH=<op> with the source in env vars.
const fetchChildEnv = "SYNCD_BENCH_FETCH"

// runFetchChild is the child side: one gitsource operation, then exit.
func runFetchChild(op string) {
	src, err := gitsource.New(gitsource.Options{
		URL: os.Getenv("BENCH_URL"), IdentityFile: os.Getenv("BENCH_KEY"),
		KnownHostsFile: os.Getenv("BENCH_KNOWN_HOSTS"), CacheDir: os.Getenv("BENCH_CACHE"),
	})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	switch op {
	case "head":
		_, err = src.Head(ctx)
	case "refetch":
		// What a running daemon pays per poll: a second Fetch in one process.
		if _, _, err = src.Fetch(ctx); err == nil {
			start := time.Now()
			_, _, err = src.Fetch(ctx)
			fmt.Printf("second=%d\n", time.Since(start).Microseconds())
		}
	default:
		_, _, err = src.Fetch(ctx)
	}
	if err != nil {
		fail(err)
	}
	os.Exit(0)
}

// benchGit measures syncd's Git source beside the git CLI over the same sshd
// on a generated repo of commits commits and files files.
func benchGit(ctx context.Context, commits, files int) error {
	srv, bare, err := startRepo("big.git")
	if err != nil {
		return err
	}
	defer srv.Stop()
	start := time.Now()
	if err := generateHistory(bare, commits, files, 0); err != nil {
		return err
	}
	fmt.Printf("\ngit: generated %d commits, %d files in %s; served by OpenSSH on %s\n", commits, files, time.Since(start).Round(time.Millisecond), srv.Addr())

	work, err := os.MkdirTemp("", "syncd-bench-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	url := srv.URL("big.git")
	childEnv := append(os.Environ(), "BENCH_URL="+url, "BENCH_KEY="+srv.DeployKey.PrivatePath,
		"BENCH_KNOWN_HOSTS="+srv.KnownHosts, "BENCH_CACHE="+filepath.Join(work, "syncd-cache"))
	syncd := func(name, op string) (run, error) {
		cmd := exec.CommandContext(ctx, self)
		cmd.Env = append(childEnv, fetchChildEnv+"="+op)
		return measure(name, cmd)
	}
	gitEnv := append(os.Environ(), sshEnv(srv))
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return err
	}
	gitCmd := func(name, dir string, args ...string) (run, error) {
		cmd := exec.CommandContext(ctx, gitPath, args...)
		cmd.Dir, cmd.Env = dir, gitEnv
		return measureTree(name, cmd)
	}
	clone := filepath.Join(work, "git-clone.git")

	var syncdRuns, gitRuns []run
	add := func(s, g run, err1, err2 error) error {
		if err := firstErr(err1, err2); err != nil {
			return err
		}
		syncdRuns, gitRuns = append(syncdRuns, s), append(gitRuns, g)
		return nil
	}
	s, err1 := syncd("first clone", "fetch")
	g, err2 := gitCmd("first clone", work, "clone", "--quiet", "--bare", "--branch", "main", url, clone)
	if err := add(s, g, err1, err2); err != nil {
		return err
	}
	s, err1 = syncd("no-change check (ls-remote)", "head")
	g, err2 = gitCmd("no-change check (ls-remote)", work, "ls-remote", url, "refs/heads/main")
	if err := add(s, g, err1, err2); err != nil {
		return err
	}
	s, err1 = syncd("no-change fetch", "fetch")
	g, err2 = gitCmd("no-change fetch", clone, "fetch", "--quiet", "origin", "+refs/heads/main:refs/heads/main")
	if err := add(s, g, err1, err2); err != nil {
		return err
	}
	if err := generateHistory(bare, 1, files, commits); err != nil {
		return err
	}
	s, err1 = syncd("fetch of one new commit", "fetch")
	g, err2 = gitCmd("fetch of one new commit", clone, "fetch", "--quiet", url, "+refs/heads/main:refs/heads/main")
	if err := add(s, g, err1, err2); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(childEnv, fetchChildEnv+"=refetch")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("refetch: %w", err)
	}
	var micros int64
	fmt.Sscanf(strings.TrimSpace(string(out)), "second=%d", &micros)
	fmt.Println("  (each syncd step is a fresh process with the cache on disk, as after a restart)")
	fmt.Printf("  no-change poll inside a running syncd (second Fetch in one process): %s\n", (time.Duration(micros) * time.Microsecond).Round(time.Millisecond))
	w := newTable()
	fmt.Fprintln(w, "step\tsyncd wall\tsyncd peak RSS\tgit wall\tgit peak RSS\tsyncd/git\t")
	for i := range syncdRuns {
		sr, gr := syncdRuns[i], gitRuns[i]
		fmt.Fprintf(w, "%s\t%s\t%d MiB\t%s\t%d MiB\t%.2fx\t\n", sr.name, sr.wall.Round(time.Millisecond), sr.maxRSS/1024,
			gr.wall.Round(time.Millisecond), gr.maxRSS/1024, sr.wall.Seconds()/gr.wall.Seconds())
	}
	return w.Flush()
}

// wrapChildEnv makes the bench binary run the command in its arguments and
// report the peak RSS of that command's whole process tree (git runs ssh and
// index-pack) on its last stderr line.
const wrapChildEnv = "SYNCD_BENCH_WRAP"

// runWrapChild is the wrapper side.
func runWrapChild() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	fmt.Fprintf(os.Stderr, "\nmaxrss=%d\n", ru.Maxrss)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// measureTree is measure for a command that starts helpers: the peak RSS is
// the largest of its whole process tree, read through the wrapper.
func measureTree(name string, cmd *exec.Cmd) (run, error) {
	self, err := os.Executable()
	if err != nil {
		return run{}, err
	}
	wrapped := exec.CommandContext(context.Background(), self, cmd.Args...)
	wrapped.Dir, wrapped.Env = cmd.Dir, append(cmd.Env, wrapChildEnv+"=1")
	var stderr strings.Builder
	wrapped.Stderr = &stderr
	start := time.Now()
	if err := wrapped.Run(); err != nil {
		return run{}, fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String(), 10))
	}
	r := run{name: name, wall: time.Since(start)}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "maxrss="); ok {
			fmt.Sscan(v, &r.maxRSS)
		}
	}
	return r, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// generateHistory appends commits to branch main of the bare repository with
// git fast-import: the first commit (when from is 0) adds files files under
// products/, each later one edits one of them.
func generateHistory(bare string, commits, files, from int) error {
	return fastImport(bare, func(w *bufio.Writer) {
		generateCommits(w, commits, files, from)
	})
}

func generateCommits(w *bufio.Writer, commits, files, from int) {
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+commits; i++ {
		writeCommit(w, "refs/heads/main", when.Add(time.Duration(i)*time.Second), fmt.Sprintf("change %d", i))
		if i == from && from > 0 {
			fmt.Fprintf(w, "from refs/heads/main^0\n")
		}
		if i == 0 {
			for f := 0; f < files; f++ {
				writeBlob(w, benchPath(f), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {value: \"0\"}\n", f))
			}
		} else {
			f := (i * 7919) % files
			writeBlob(w, benchPath(f), fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {value: \"%d\"}\n", f, i))
		}
	}
}

// startRepo starts an OpenSSH Git server (stop it with Stop) serving one
// new bare repository name, with branch main, and returns its path.
func startRepo(name string) (*testenv.GitServer, string, error) {
	srv, err := testenv.StartGitServer()
	if err != nil {
		return nil, "", err
	}
	bare, err := srv.CreateRepo(name, "main")
	if err != nil {
		srv.Stop()
		return nil, "", err
	}
	return srv, bare, nil
}

// sshEnv is the environment variable that makes the git CLI reach srv with
// its deploy key.
func sshEnv(srv *testenv.GitServer) string {
	return "GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)
}

// fastImport runs git fast-import in the bare repository on the stream
// write writes.
func fastImport(bare string, write func(w *bufio.Writer)) error {
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	write(w)
	err = w.Flush()
	stdin.Close()
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("git fast-import: %w: %s", werr, stderr.String())
	}
	return err
}

// writeCommit starts a commit of ref in a fast-import stream.
func writeCommit(w *bufio.Writer, ref string, at time.Time, msg string) {
	fmt.Fprintf(w, "commit %s\ncommitter Bench <bench@syncd.dev> %d +0000\ndata %d\n%s\n", ref, at.Unix(), len(msg), msg)
}

func writeBlob(w *bufio.Writer, path, content string) {
	fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
}

func benchPath(f int) string {
	return fmt.Sprintf("products/p%03d/releases/1.0.0/cm-%05d.yaml", f%500, f)
}
