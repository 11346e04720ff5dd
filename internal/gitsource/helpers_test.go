package gitsource

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// fixture is a repository on a real sshd, seeded with files, plus a clone
// made with the git command line to push changes to it from "elsewhere".
type fixture struct {
	t    *testing.T
	srv  *testenv.GitServer
	name string
	url  string
	work string
	env  []string
}

// newFixture seeds repository fleet.git (branch main) with files (path ->
// content; a content starting with "-> " makes a symlink to the rest).
func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	srv := testenv.NewGitServer(t)
	src := t.TempDir()
	writeFiles(t, src, files)
	f := &fixture{t: t, srv: srv, name: "fleet.git"}
	f.url = testenv.SeedRepo(t, srv, f.name, "main", src)
	f.env = []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	f.work = filepath.Join(t.TempDir(), "work")
	f.git(t.TempDir(), "clone", "--quiet", f.url, f.work)
	return f
}

// git runs the git command line in dir with access to the server.
func (f *fixture) git(dir string, args ...string) string {
	f.t.Helper()
	out, err := testenv.RunGit(dir, f.env, args...)
	if err != nil {
		f.t.Fatalf("%v\nsshd log:\n%s", err, f.srv.Log())
	}
	return out
}

// push commits files (as in newFixture; an empty content deletes) on top of
// the server's branch and pushes them with the git command line.
func (f *fixture) push(branch, msg string, files map[string]string) string {
	f.t.Helper()
	f.git(f.work, "fetch", "--quiet", "origin")
	f.git(f.work, "checkout", "--quiet", "-B", branch, "origin/"+branch)
	for name, content := range files {
		if content == "" {
			f.git(f.work, "rm", "--quiet", name)
			delete(files, name)
		}
	}
	writeFiles(f.t, f.work, files)
	f.git(f.work, "add", "-A")
	f.git(f.work, "commit", "--quiet", "-m", msg)
	f.git(f.work, "push", "--quiet", "origin", branch)
	return f.git(f.work, "rev-parse", "HEAD")
}

// remote runs git against the bare repository on the server.
func (f *fixture) remote(args ...string) string {
	f.t.Helper()
	return testenv.Git(f.t, f.srv.RepoPath(f.name), args...)
}

// options are Options that reach the fixture's repository.
func (f *fixture) options() Options {
	return Options{
		URL:            f.url,
		IdentityFile:   f.srv.DeployKey.PrivatePath,
		KnownHostsFile: f.srv.KnownHosts,
		CacheDir:       f.t.TempDir(),
		Timeout:        30 * time.Second,
	}
}

// source makes a Source for the fixture, with edit applied to its options.
func (f *fixture) source(edit func(*Options)) *Source {
	f.t.Helper()
	opts := f.options()
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(p)
		content := files[name]
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// packs lists the cache's pack files.
func packs(t *testing.T, s *Source) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.dir, "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// packObjects reads the object count from a pack file's header.
func packObjects(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 12 || string(data[:4]) != "PACK" {
		t.Fatalf("%s is not a pack file", path)
	}
	return int(binary.BigEndian.Uint32(data[8:12]))
}

// logBuffer captures a Source's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: l, Level: hclog.Debug})
}

// gitIn runs git in dir without failing the test.
func gitIn(dir string, args ...string) (string, error) {
	return testenv.RunGit(dir, nil, args...)
}
