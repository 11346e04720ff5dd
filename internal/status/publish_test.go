package status

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// gitFixture is a fleet repo on a real sshd with branch main.
type gitFixture struct {
	t   *testing.T
	srv *testenv.GitServer
	url string
}

func newGitFixture(t *testing.T) *gitFixture {
	t.Helper()
	srv := testenv.NewGitServer(t)
	seed := t.TempDir()
	if err := os.WriteFile(filepath.Join(seed, "fleet.yaml"), []byte("kind: Fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &gitFixture{t: t, srv: srv, url: testenv.SeedRepo(t, srv, "fleet.git", "main", seed)}
}

// source is a new gitsource.Source (with its own cache, as after a restart)
// that has fetched main once.
func (f *gitFixture) source() *gitsource.Source {
	f.t.Helper()
	src, err := gitsource.New(gitsource.Options{
		URL: f.url, IdentityFile: f.srv.DeployKey.PrivatePath, KnownHostsFile: f.srv.KnownHosts,
		CacheDir: f.t.TempDir(), Timeout: 30 * time.Second,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := src.Fetch(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return src
}

// remote runs git in the bare repository on the server.
func (f *gitFixture) remote(args ...string) string {
	f.t.Helper()
	return testenv.Git(f.t, f.srv.RepoPath("fleet.git"), args...)
}

// publish calls p.Publish and checks what it returned.
func publish(t *testing.T, p *Publisher, st *SiteStatus, want bool) {
	t.Helper()
	got, err := p.Publish(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Publish = %v, want %v", got, want)
	}
}

// checkBranch fails unless the status branch is one parentless commit
// holding only status.yaml with st's report, and returns the commit.
func (f *gitFixture) checkBranch(st *SiteStatus) string {
	f.t.Helper()
	branch := Branch(st.Site)
	if got := f.remote("rev-list", "--count", branch); got != "1" {
		f.t.Fatalf("%s has %s commits, want 1", branch, got)
	}
	if got := f.remote("ls-tree", "--name-only", branch); got != ReportFile {
		f.t.Fatalf("%s holds %q, want only %s", branch, got, ReportFile)
	}
	want, err := NewReport(st).Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	if got := f.remote("show", branch+":"+ReportFile); got != strings.TrimSpace(string(want)) {
		f.t.Fatalf("%s:\n%s\nwant:\n%s", ReportFile, got, want)
	}
	return f.remote("rev-parse", branch)
}

func TestPublishReplacesTheStatusBranchOnChange(t *testing.T) {
	f := newGitFixture(t)
	main := f.remote("rev-parse", "main")
	p := NewPublisher(f.source(), "eu-1", nil)

	st := sampleStatus(t1)
	publish(t, p, st, true)
	first := f.checkBranch(st)
	if msg := f.remote("log", "-1", "--format=%B", Branch("eu-1")); !strings.Contains(msg, "status of site eu-1 at 0123456789ab") ||
		!strings.Contains(msg, "Syncd-Revision: "+st.Revision) {
		t.Errorf("commit message %q", msg)
	}

	// A later sync that changed nothing but its time pushes nothing until
	// the refresh interval has passed; then it refreshes the liveness time.
	publish(t, p, sampleStatus(t1.Add(DefaultRefresh-time.Second)), false)
	if got := f.checkBranch(st); got != first {
		t.Fatalf("branch moved to %s without a change", got)
	}
	refreshed := sampleStatus(t1.Add(DefaultRefresh))
	publish(t, p, refreshed, true)
	if got := f.checkBranch(refreshed); got == first {
		t.Fatal("the liveness time was not refreshed")
	}
	p.SetRefresh(time.Hour)
	publish(t, p, sampleStatus(t1.Add(DefaultRefresh+30*time.Minute)), false)

	changed := sampleStatus(t1.Add(2 * time.Hour))
	changed.Products[1].Health = health.Progressing
	changed.Products[1].Transitions = []Transition{{From: health.Healthy, To: health.Progressing, At: t1.Add(2 * time.Hour)}}
	publish(t, p, changed, true)
	second := f.checkBranch(changed)
	if second == first {
		t.Fatal("the changed report was not pushed")
	}

	// After a restart the first Publish commits, but the same report makes
	// no new commit.
	restarted := NewPublisher(f.source(), "eu-1", nil)
	publish(t, restarted, changed, true)
	if got := f.checkBranch(changed); got != second {
		t.Fatalf("republishing the same report after a restart made commit %s", got)
	}
	publish(t, restarted, changed, false)

	if got := f.remote("rev-parse", "main"); got != main {
		t.Fatal("publishing moved main")
	}
	f.remote("fsck", "--strict", "--no-dangling")
}

func TestPublishDropsStrayFilesFromTheStatusBranch(t *testing.T) {
	f := newGitFixture(t)
	// Someone pushed other files to the status branch by hand.
	work := t.TempDir()
	for name, content := range map[string]string{"notes.txt": "hi\n", "dir/deep.yaml": "x: 1\n", ReportFile: "old\n"} {
		path := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GIT_SSH_COMMAND=" + f.srv.GitSSHCommand(f.srv.DeployKey.PrivatePath)}
	for _, args := range [][]string{
		{"init", "--quiet"}, {"add", "-A"}, {"commit", "--quiet", "-m", "by hand"},
		{"push", "--quiet", f.url, "HEAD:refs/heads/" + Branch("eu-1")},
	} {
		if _, err := testenv.RunGit(work, env, args...); err != nil {
			t.Fatal(err)
		}
	}
	st := sampleStatus(t1)
	publish(t, NewPublisher(f.source(), "eu-1", nil), st, true)
	f.checkBranch(st)
}

func TestPublishStopsWhenTheServerRefusesPushes(t *testing.T) {
	f := newGitFixture(t)
	calls := filepath.Join(t.TempDir(), "pushes")
	hook := filepath.Join(f.srv.RepoPath("fleet.git"), "hooks", "pre-receive")
	script := fmt.Sprintf("#!/bin/sh\necho push >> %s\necho 'read-only deploy key' >&2\nexit 1\n", calls)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := NewPublisher(f.source(), "eu-1", hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info}))

	publish(t, p, sampleStatus(t1), false)
	changed := sampleStatus(t1)
	changed.Revision = "fedcba9876543210fedcba9876543210fedcba98"
	publish(t, p, changed, false)
	publish(t, p, sampleStatus(t1), false)

	if !p.Disabled() {
		t.Error("Disabled() = false after a refused push")
	}
	if data, err := os.ReadFile(calls); err != nil || strings.Count(string(data), "push") != 1 {
		t.Errorf("the server saw %q pushes (%v); want exactly one attempt", data, err)
	}
	if n := strings.Count(logs.String(), "status report disabled: deploy key is read-only"); n != 1 || !strings.Contains(logs.String(), "[WARN]") {
		t.Errorf("want one warning, logs:\n%s", logs.String())
	}
	if _, err := testenv.RunGit(f.srv.RepoPath("fleet.git"), nil, "rev-parse", "--verify", "--quiet", Branch("eu-1")); err == nil {
		t.Error("the status branch exists although every push was refused")
	}
}

// fakeCommitter records commits and fails with err while err is set.
type fakeCommitter struct {
	mu    sync.Mutex
	err   error
	calls int
	last  gitsource.CommitRequest
}

func (c *fakeCommitter) Commit(_ context.Context, req gitsource.CommitRequest) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.last = req
	return "", c.err
}

func TestPublishErrors(t *testing.T) {
	t.Run("read-only key", func(t *testing.T) {
		c := &fakeCommitter{err: fmt.Errorf("pushing: %w", gitsource.ErrAuth)}
		var logs bytes.Buffer
		p := NewPublisher(c, "eu-1", hclog.New(&hclog.LoggerOptions{Output: &logs}))
		publish(t, p, sampleStatus(t1), false)
		c.err = nil
		publish(t, p, sampleStatus(t1.Add(time.Hour)), false)
		if c.calls != 1 || strings.Count(logs.String(), "status report disabled") != 1 {
			t.Fatalf("%d commits, logs:\n%s", c.calls, logs.String())
		}
	})
	t.Run("transient failure is retried", func(t *testing.T) {
		c := &fakeCommitter{err: fmt.Errorf("fetching: %w", gitsource.ErrUnreachable)}
		p := NewPublisher(c, "eu-1", nil)
		if ok, err := p.Publish(context.Background(), sampleStatus(t1)); ok || !errors.Is(err, gitsource.ErrUnreachable) {
			t.Fatalf("Publish = %v, %v; want false and ErrUnreachable", ok, err)
		}
		c.err = nil
		publish(t, p, sampleStatus(t1), true)
		publish(t, p, sampleStatus(t1), false)
		if c.calls != 2 || p.Disabled() {
			t.Fatalf("%d commits (want 2), disabled %v", c.calls, p.Disabled())
		}
		if !c.last.Force || c.last.Branch != "syncd/status/eu-1" {
			t.Fatalf("request %+v: want a forced commit to syncd/status/eu-1", c.last)
		}
	})
	t.Run("another site", func(t *testing.T) {
		c := &fakeCommitter{}
		_, err := NewPublisher(c, "us-2", nil).Publish(context.Background(), sampleStatus(t1))
		if err == nil || c.calls != 0 {
			t.Fatalf("Publish = %v after %d commits; want an error and none", err, c.calls)
		}
	})
}

func TestRefreshDueFollowsTheLastPublish(t *testing.T) {
	c := &fakeCommitter{}
	p := NewPublisher(c, "eu-1", nil)
	if due, ok := p.RefreshDue(); ok {
		t.Fatalf("RefreshDue = %v before any publish, want none", due)
	}
	// Liveness times have second precision: 2.5s is reached at 3s.
	p.SetRefresh(2500 * time.Millisecond)
	publish(t, p, sampleStatus(t1), true)
	due, ok := p.RefreshDue()
	if !ok || !due.Equal(t1.Add(3*time.Second)) {
		t.Fatalf("RefreshDue = %v, %v; want %v", due, ok, t1.Add(3*time.Second))
	}
	publish(t, p, sampleStatus(due.Add(-time.Second)), false)
	publish(t, p, sampleStatus(due), true)
	if next, _ := p.RefreshDue(); !next.Equal(due.Add(3 * time.Second)) {
		t.Fatalf("RefreshDue after the refresh = %v, want %v", next, due.Add(3*time.Second))
	}

	c.err = fmt.Errorf("pushing: %w", gitsource.ErrAuth)
	publish(t, p, sampleStatus(due.Add(time.Hour)), false)
	if due, ok := p.RefreshDue(); ok {
		t.Fatalf("RefreshDue = %v once publishing is disabled, want none", due)
	}
}
