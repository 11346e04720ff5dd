package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bump returns a Change that rewrites channels/web.yaml from what it reads.
func bump(version string) func(*WorkTree) error {
	return func(w *WorkTree) error {
		data, err := w.ReadFile("channels/web.yaml")
		if err != nil {
			return err
		}
		return w.WriteFile("channels/web.yaml", []byte(strings.Replace(string(data), "dev: 1.0.0", "dev: "+version, 1)))
	}
}

func TestCommitPushesOnTrackedBranch(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(func(o *Options) { o.Author = Signature{Name: "syncd promoter", Email: "promoter@example.com"} })
	ctx := context.Background()
	before := f.remote("rev-parse", "main")

	sha, err := s.Commit(ctx, CommitRequest{
		Message:  "promote web 1.1.0: dev -> staging",
		Trailers: []Trailer{{"Syncd-Evidence", "2 sites healthy for 30m"}, {"Syncd-Site", "a"}},
		Change:   bump("1.1.0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.remote("rev-parse", "main"); got != sha {
		t.Fatalf("server main = %s, Commit returned %s", got, sha)
	}
	if parent := f.remote("rev-parse", "main^"); parent != before {
		t.Fatalf("parent = %s, want the previous head %s", parent, before)
	}
	if got := f.remote("show", "main:channels/web.yaml"); got != "spec: {dev: 1.1.0}" {
		t.Fatalf("channels/web.yaml = %q", got)
	}
	if got := f.remote("log", "-1", "--format=%an <%ae>|%cn <%ce>"); got != "syncd promoter <promoter@example.com>|syncd promoter <promoter@example.com>" {
		t.Fatalf("author|committer = %q", got)
	}
	msg := f.remote("log", "-1", "--format=%B")
	wantMsg := "promote web 1.1.0: dev -> staging\n\nSyncd-Evidence: 2 sites healthy for 30m\nSyncd-Site: a"
	if msg != wantMsg {
		t.Fatalf("message = %q, want %q", msg, wantMsg)
	}
	if got := f.remote("log", "-1", "--format=%(trailers:key=Syncd-Site,valueonly)"); got != "a" {
		t.Fatalf("git does not parse the trailers: %q", got)
	}
	if got := f.remote("diff", "--name-only", before, sha); got != "channels/web.yaml" {
		t.Fatalf("commit changed %q, want only channels/web.yaml", got)
	}
	f.remote("fsck", "--strict", "--no-dangling")

	// The pushed commit is already local: Fetch downloads nothing.
	fetched := s.fetches.Load()
	rev, _, err := s.Fetch(ctx)
	if err != nil || rev.SHA != sha {
		t.Fatalf("Fetch after Commit = %s, %v; want %s", rev.SHA, err, sha)
	}
	if s.fetches.Load() != fetched {
		t.Fatal("Fetch after Commit downloaded the commit it pushed")
	}
}

func TestCommitWithoutChangesPushesNothing(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	head := f.remote("rev-parse", "main")
	changes := map[string]func(*WorkTree) error{
		"no edit":      func(*WorkTree) error { return nil },
		"same content": func(w *WorkTree) error { return w.WriteFile("fleet.yaml", []byte("kind: Fleet\n")) },
	}
	for name, change := range changes {
		sha, err := s.Commit(context.Background(), CommitRequest{Message: name, Change: change})
		if err != nil || sha != head {
			t.Fatalf("%s: Commit = %s, %v; want the head %s", name, sha, err, head)
		}
	}
	if got := f.remote("rev-parse", "main"); got != head {
		t.Fatalf("a no-op commit moved main to %s", got)
	}
}

func TestCommitRetriesAfterConcurrentPush(t *testing.T) {
	f := newFixture(t, fleetFiles())
	var logs logBuffer
	s := f.source(func(o *Options) { o.Logger = logs.logger() })
	s.backoff = 10 * time.Millisecond
	calls := 0
	var theirs string
	sha, err := s.Commit(context.Background(), CommitRequest{
		Message: "promote web 1.1.0",
		Change: func(w *WorkTree) error {
			calls++
			if calls == 1 {
				// Someone else pushes between our fetch and our push.
				theirs = f.push("main", "their change", map[string]string{
					"channels/web.yaml": "spec: {dev: 1.0.0, staging: 0.9.0}\n",
					"sites/b/site.yaml": "kind: Site\n",
				})
			}
			return bump("1.1.0")(w)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Fatalf("Change ran %d times, want 2 (once more on the new head)", calls)
	}
	if got := f.remote("rev-parse", "main"); got != sha {
		t.Fatalf("server main = %s, Commit returned %s", got, sha)
	}
	if parent := f.remote("rev-parse", "main^"); parent != theirs {
		t.Fatalf("our commit's parent = %s, want their commit %s", parent, theirs)
	}
	// Both changes are there: theirs, and ours re-applied on top of it.
	if got := f.remote("show", "main:channels/web.yaml"); got != "spec: {dev: 1.1.0, staging: 0.9.0}" {
		t.Fatalf("channels/web.yaml = %q", got)
	}
	if got := f.remote("show", "main:sites/b/site.yaml"); got != "kind: Site" {
		t.Fatalf("their new file = %q", got)
	}
	if !strings.Contains(logs.String(), "retrying on its new head") {
		t.Fatalf("retry not logged:\n%s", logs.String())
	}
	f.remote("fsck", "--strict", "--no-dangling")
}

func TestCommitGivesUpWhenBranchKeepsMoving(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	s.backoff = time.Millisecond
	s.maxAttempts = 3
	calls := 0
	_, err := s.Commit(context.Background(), CommitRequest{
		Message: "never lands",
		Change: func(w *WorkTree) error {
			calls++
			f.push("main", fmt.Sprintf("theirs %d", calls), map[string]string{"sites/a/site.yaml": fmt.Sprintf("n: %d\n", calls)})
			return w.WriteFile("ours.yaml", []byte("x\n"))
		},
	})
	if !errors.Is(err, ErrPushRejected) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("Commit = %v; want ErrPushRejected after 3 attempts", err)
	}
	if calls != 3 {
		t.Fatalf("Change ran %d times, want 3", calls)
	}
	if _, err := gitIn(f.srv.RepoPath(f.name), "show", "main:ours.yaml"); err == nil {
		t.Fatal("our change landed although Commit failed")
	}
}

func TestCommitRefusedByServerIsNotRetried(t *testing.T) {
	f := newFixture(t, fleetFiles())
	hook := filepath.Join(f.srv.RepoPath(f.name), "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := f.source(nil)
	calls := 0
	_, err := s.Commit(context.Background(), CommitRequest{
		Message: "refused",
		Change:  func(w *WorkTree) error { calls++; return w.WriteFile("x.yaml", []byte("x\n")) },
	})
	if !errors.Is(err, ErrPushRejected) || !strings.Contains(err.Error(), `push to branch "main" of `+f.url+" rejected") {
		t.Fatalf("Commit = %v; want ErrPushRejected naming the branch", err)
	}
	if calls != 1 {
		t.Fatalf("Change ran %d times; a refusal that is not a race must not be retried", calls)
	}
}

func TestCommitForceReplacesStatusBranch(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()
	main := f.remote("rev-parse", "main")
	const branch = "syncd/status/site-a"

	var previous []string
	report := func(health string) func(*WorkTree) error {
		return func(w *WorkTree) error {
			old, err := w.ReadFile("status.yaml")
			if err == nil {
				previous = append(previous, string(old))
			}
			return w.WriteFile("status.yaml", []byte("health: "+health+"\n"))
		}
	}
	var shas []string
	for _, health := range []string{"PROGRESSING", "HEALTHY", "HEALTHY"} {
		sha, err := s.Commit(ctx, CommitRequest{Branch: branch, Force: true, Message: "status of site-a", Change: report(health)})
		if err != nil {
			t.Fatal(err)
		}
		shas = append(shas, sha)
		if got := f.remote("rev-list", "--count", branch); got != "1" {
			t.Fatalf("status branch has %s commits, want 1", got)
		}
		if got := f.remote("show", branch+":status.yaml"); got != "health: "+health {
			t.Fatalf("status.yaml = %q, want health: %s", got, health)
		}
		if got := f.remote("ls-tree", "--name-only", branch); got != "status.yaml" {
			t.Fatalf("status branch holds %q, want only status.yaml", got)
		}
	}
	if shas[0] == shas[1] || shas[1] != shas[2] {
		t.Fatalf("commits %v: want a new one for a change and none for the same report", shas)
	}
	if strings.Join(previous, "|") != "health: PROGRESSING\n|health: HEALTHY\n" {
		t.Fatalf("Change saw previous reports %q", previous)
	}
	if got := f.remote("rev-parse", "main"); got != main {
		t.Fatal("writing a status branch moved main")
	}
	f.remote("fsck", "--strict", "--no-dangling")

	_, err := s.Commit(ctx, CommitRequest{Force: true, Message: "no", Change: report("X")})
	if err == nil || !strings.Contains(err.Error(), "refusing to force-replace the tracked branch") {
		t.Fatalf("Force on the tracked branch: %v", err)
	}
}

func TestCommitToNewBranchForPullRequest(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()
	main := f.remote("rev-parse", "main")
	const branch = "promote/web/staging/1.1.0"

	sha, err := s.Commit(ctx, CommitRequest{Branch: branch, Message: "promote web 1.1.0: dev -> staging", Change: bump("1.1.0")})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.remote("rev-parse", branch); got != sha {
		t.Fatalf("%s = %s, want %s", branch, got, sha)
	}
	if got := f.remote("rev-parse", branch+"^"); got != main {
		t.Fatalf("pull-request branch starts at %s, want main %s", got, main)
	}
	if got := f.remote("rev-parse", "main"); got != main {
		t.Fatal("pushing a pull-request branch moved main")
	}
	// A second change to the same branch builds on it.
	sha2, err := s.Commit(ctx, CommitRequest{Branch: branch, Message: "also sites/b", Change: func(w *WorkTree) error {
		return w.WriteFile("sites/b/site.yaml", []byte("kind: Site\n"))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.remote("rev-parse", branch+"^"); got != sha {
		t.Fatalf("second commit's parent = %s, want %s", got, sha)
	}
	if got := f.remote("show", sha2+":channels/web.yaml"); got != "spec: {dev: 1.1.0}" {
		t.Fatalf("second commit lost the first change: %q", got)
	}
}

func TestCommitRetriesWhenServerRefusesStaleUpdate(t *testing.T) {
	// The branch moves after the server advertised it to us and before it
	// applies our update: the server must refuse (compare-and-swap on the
	// old value) and Commit must retry on the new head.
	f := newFixture(t, fleetFiles())
	hook := filepath.Join(f.srv.RepoPath(f.name), "hooks", "pre-receive")
	script := `#!/bin/sh
[ -e "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_AUTHOR_NAME=them GIT_AUTHOR_EMAIL=them@example.com GIT_COMMITTER_NAME=them GIT_COMMITTER_EMAIL=them@example.com
c=$(echo "their racing commit" | git commit-tree refs/heads/main^{tree} -p refs/heads/main) || exit 1
git update-ref refs/heads/main "$c" || exit 1
git rev-parse refs/heads/main > "$GIT_DIR/theirs"
`
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	s := f.source(func(o *Options) { o.Logger = logs.logger() })
	s.backoff = 10 * time.Millisecond
	calls := 0
	sha, err := s.Commit(context.Background(), CommitRequest{
		Message: "promote web 1.1.0",
		Change:  func(w *WorkTree) error { calls++; return bump("1.1.0")(w) },
	})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile(filepath.Join(f.srv.RepoPath(f.name), "theirs"))
	if err != nil {
		t.Fatalf("the hook did not race: %v", err)
	}
	if calls != 2 {
		t.Fatalf("Change ran %d times, want 2", calls)
	}
	if got := f.remote("rev-parse", "main^"); got != strings.TrimSpace(string(theirs)) {
		t.Fatalf("our commit's parent = %s, want the racing commit %s", got, theirs)
	}
	if got := f.remote("rev-parse", "main"); got != sha {
		t.Fatalf("main = %s, Commit returned %s", got, sha)
	}
	if got := f.remote("show", "main:channels/web.yaml"); got != "spec: {dev: 1.1.0}" {
		t.Fatalf("channels/web.yaml = %q", got)
	}
	if !strings.Contains(logs.String(), "command error on refs/heads/main") {
		t.Fatalf("the retry was not caused by the server refusing the update:\n%s", logs.String())
	}
}

func TestCommitRebuildsPullRequestBranch(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()
	const branch = "promote/web/staging/1.1.0"
	req := CommitRequest{Branch: branch, Rebuild: true, Message: "promote web 1.1.0: dev -> staging", Change: bump("1.1.0")}

	first, err := s.Commit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The tracked branch moves: the pull-request branch carries the same
	// bump, so it is not replaced.
	f.push("main", "unrelated", map[string]string{"sites/c/site.yaml": "kind: Site\n"})
	if got, err := s.Commit(ctx, req); err != nil || got != first {
		t.Fatalf("second Commit = %s, %v; want the branch left at %s", got, err, first)
	}
	if got := f.remote("rev-parse", branch); got != first {
		t.Fatalf("%s moved to %s although its bump did not change", branch, got)
	}
	// The bump changes: the branch is rebuilt on the tracked branch's new
	// head, one commit, not stacked on the old one.
	req.Change = bump("1.2.0")
	third, err := s.Commit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.remote("rev-parse", branch+"^"); got != f.remote("rev-parse", "main") {
		t.Fatalf("rebuilt branch's parent = %s, want main's head", got)
	}
	if got := f.remote("show", third+":channels/web.yaml"); got != "spec: {dev: 1.2.0}" {
		t.Fatalf("rebuilt branch holds %q", got)
	}
	if _, err := s.Commit(ctx, CommitRequest{Rebuild: true, Message: "x", Change: bump("1")}); err == nil {
		t.Fatal("Rebuild of the tracked branch accepted")
	}
}
