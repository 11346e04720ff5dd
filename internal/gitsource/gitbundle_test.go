package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// localRepo is a Git checkout on disk served as file://, with commits made
// by the git command line.
type localRepo struct {
	t   *testing.T
	dir string
}

func newLocalRepo(t *testing.T) *localRepo {
	t.Helper()
	r := &localRepo{t: t, dir: t.TempDir()}
	testenv.Git(t, r.dir, "init", "--quiet", "--initial-branch=main")
	return r
}

// commit writes name with content and commits; it returns the commit hash.
func (r *localRepo) commit(name, content string) string {
	r.t.Helper()
	writeFiles(r.t, r.dir, map[string]string{name: content})
	testenv.Git(r.t, r.dir, "add", "-A")
	testenv.Git(r.t, r.dir, "commit", "--quiet", "-m", "edit "+name)
	return strings.TrimSpace(testenv.Git(r.t, r.dir, "rev-parse", "HEAD"))
}

func (r *localRepo) url() string { return "file://" + r.dir }

func newLocalSource(t *testing.T, url, cache string, offline bool) *Source {
	t.Helper()
	s, err := New(Options{URL: url, CacheDir: cache, Timeout: time.Minute, Offline: offline})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bundleOf fetches src and writes its branch since since as a bundle.
func bundleOf(t *testing.T, src *Source, since string) ([]byte, BundleStats) {
	t.Helper()
	ctx := context.Background()
	rev, _, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	stats, err := src.WriteBundle(ctx, &b, rev.SHA, since)
	if err != nil {
		t.Fatalf("WriteBundle since %q: %v", since, err)
	}
	return b.Bytes(), stats
}

// TestBundleCarriesTheBranchToAnOfflineCache: a full bundle, then an
// incremental one, move an offline Source's branch as fetches would; the
// bundles are what `git bundle verify` accepts; a bundle whose prerequisite
// the cache lacks, and one that is not a fast-forward, are refused and move
// nothing.
func TestBundleCarriesTheBranchToAnOfflineCache(t *testing.T) {
	ctx := context.Background()
	repo := newLocalRepo(t)
	first := repo.commit("a.yaml", "a: 1\n")
	connected := newLocalSource(t, repo.url(), t.TempDir(), false)
	full, stats := bundleOf(t, connected, "")
	if stats.Head != first || stats.Commits != 1 || stats.Objects != 3 {
		t.Fatalf("full bundle stats %+v, want head %s, 1 commit, 3 objects", stats, first)
	}
	path := filepath.Join(t.TempDir(), "full.bundle")
	if err := os.WriteFile(path, full, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := gitIn(repo.dir, "bundle", "verify", path); err != nil {
		t.Fatalf("git bundle verify: %v\n%s", err, out)
	}

	site := newLocalSource(t, "file:///unreachable/fleet.git", t.TempDir(), true)
	if _, _, err := site.Fetch(ctx); !errors.Is(err, ErrBranchNotFound) || !strings.Contains(err.Error(), "bundle import") {
		t.Fatalf("offline Fetch of an empty cache: %v", err)
	}
	if rev, changed, err := site.ImportBundle(ctx, bytes.NewReader(full)); err != nil || !changed || rev.SHA != first {
		t.Fatalf("importing the full bundle: %v %v %v", rev, changed, err)
	}
	if rev, changed, err := site.Fetch(ctx); err != nil || !changed || rev.SHA != first {
		t.Fatalf("offline Fetch after import: %v %v %v", rev, changed, err)
	}
	if n := site.Sessions(); n != 0 {
		t.Fatalf("the offline source opened %d sessions", n)
	}

	second := repo.commit("b.yaml", "b: 2\n")
	third := repo.commit("a.yaml", "a: 3\n")
	incr, stats := bundleOf(t, connected, first)
	if stats.Head != third || stats.Commits != 2 {
		t.Fatalf("incremental bundle stats %+v, want head %s and 2 commits", stats, third)
	}
	if len(incr) >= len(full)+200 {
		t.Logf("incremental %d bytes, full %d", len(incr), len(full))
	}
	// A second site that never imported the full bundle lacks first.
	other := newLocalSource(t, "file:///unreachable/fleet.git", t.TempDir(), true)
	if _, _, err := other.ImportBundle(ctx, bytes.NewReader(incr)); err == nil || !strings.Contains(err.Error(), first) {
		t.Fatalf("importing an incremental bundle into an empty cache: %v", err)
	}
	if rev, changed, err := site.CheckBundle(ctx, bytes.NewReader(incr)); err != nil || !changed || rev.SHA != third {
		t.Fatalf("checking the incremental bundle: %v %v %v", rev, changed, err)
	}
	if rev, _, err := site.Fetch(ctx); err != nil || rev.SHA != first {
		t.Fatalf("CheckBundle moved the branch to %s (%v)", rev.SHA, err)
	}
	if rev, changed, err := site.ImportBundle(ctx, bytes.NewReader(incr)); err != nil || !changed || rev.SHA != third {
		t.Fatalf("importing the incremental bundle: %v %v %v", rev, changed, err)
	}
	if _, changed, err := site.ImportBundle(ctx, bytes.NewReader(incr)); err != nil || changed {
		t.Fatalf("importing it again: changed %v, %v", changed, err)
	}
	sn, err := site.Snapshot(ctx, third)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := sn.ReadFile("a.yaml"); err != nil || string(data) != "a: 3\n" {
		t.Fatalf("a.yaml at the imported head: %q %v", data, err)
	}

	// An older bundle (head second) is not a fast-forward of third.
	older := newLocalSource(t, repo.url(), t.TempDir(), false)
	testenv.Git(t, repo.dir, "reset", "--quiet", "--hard", second)
	back, _ := bundleOf(t, older, "")
	if _, _, err := site.ImportBundle(ctx, bytes.NewReader(back)); !errors.Is(err, ErrNotFastForward) {
		t.Fatalf("importing an older bundle: %v", err)
	}
	if rev, _, err := site.Fetch(ctx); err != nil || rev.SHA != third {
		t.Fatalf("after the refused import the branch is at %v (%v), want %s", rev.SHA, err, third)
	}
	// A push needs the server.
	if _, err := site.Commit(ctx, CommitRequest{Branch: "x", Force: true, Message: "x",
		Change: func(w *WorkTree) error { return w.WriteFile("x", []byte("x")) }}); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline Commit: %v", err)
	}
}

func TestWriteBundleSinceMustBeAnAncestor(t *testing.T) {
	repo := newLocalRepo(t)
	first := repo.commit("a.yaml", "a: 1\n")
	src := newLocalSource(t, repo.url(), t.TempDir(), false)
	rev, _, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ since, want string }{
		{first, "bring nothing"},
		{"abc", "not a full commit hash"},
		{strings.Repeat("1", 40), "not in the fleet repo"},
	} {
		if _, err := src.WriteBundle(context.Background(), &bytes.Buffer{}, rev.SHA, tc.since); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("since %q: %v, want %q", tc.since, err, tc.want)
		}
	}
}

// TestBundleCommitterAndPushBundle: a forced branch committed offline and
// signed is pushed as the same commit, replacing the branch.
func TestBundleCommitterAndPushBundle(t *testing.T) {
	ctx := context.Background()
	key, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "site"), "site", "")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := NewBundleCommitter(Signature{}, key.PrivatePath)
	if err != nil {
		t.Fatal(err)
	}
	sha, err := bc.Commit(ctx, CommitRequest{Branch: "syncd/status/s1", Force: true, Message: "status",
		Change: func(w *WorkTree) error { return w.WriteFile("status.yaml", []byte("site: s1\n")) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Commit(ctx, CommitRequest{Branch: "x", Message: "m", Change: func(*WorkTree) error { return nil }}); err == nil {
		t.Fatal("an unforced commit was accepted")
	}
	var buf bytes.Buffer
	if _, err := bc.WriteBundle(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Header.Ref("refs/heads/syncd/status/s1").String(); got != sha {
		t.Fatalf("bundle ref = %s, want %s", got, sha)
	}
	c, err := b.Commit(b.Header.Refs[0].Hash)
	if err != nil || !strings.Contains(c.PGPSignature, "SSH SIGNATURE") {
		t.Fatalf("commit %v, signature %q", err, c.PGPSignature)
	}
	files, err := b.Files(c.Hash)
	if err != nil || len(files) != 1 || string(files["status.yaml"]) != "site: s1\n" {
		t.Fatalf("files %v %v", files, err)
	}

	repo := newLocalRepo(t)
	repo.commit("fleet.yaml", "x\n")
	src := newLocalSource(t, repo.url(), t.TempDir(), false)
	for i, want := range []bool{true, false} {
		if pushed, err := src.PushBundle(ctx, b, "syncd/status/s1"); err != nil || pushed != want {
			t.Fatalf("push %d: pushed %v, %v", i, pushed, err)
		}
	}
	if got := strings.TrimSpace(testenv.Git(t, repo.dir, "rev-parse", "syncd/status/s1")); got != sha {
		t.Fatalf("server branch at %s, want %s", got, sha)
	}
	if _, err := src.PushBundle(ctx, b, "syncd/status/other"); err == nil {
		t.Fatal("pushed a branch the bundle does not bring")
	}
}

func TestReadBundleHeader(t *testing.T) {
	h40 := strings.Repeat("a", 40)
	for _, tc := range []struct{ in, err string }{
		{"# v2 git bundle\n" + h40 + " refs/heads/main\n\n", ""},
		{"# v2 git bundle\n-" + h40 + " base\n" + h40 + " refs/heads/main\n\n", ""},
		{"# v3 git bundle\n", "not a version 2"},
		{"# v2 git bundle\n\n", "no refs"},
		{"# v2 git bundle\n" + h40 + " main\n\n", "invalid ref name"},
		{"# v2 git bundle\nxyz refs/heads/main\n\n", "neither"},
		{"# v2 git bundle\n" + h40 + " refs/heads/main\n" + h40 + " refs/heads/main\n\n", "twice"},
		{"# v2 git bundle\n" + h40 + " refs/heads/main\n", "unexpected EOF"},
		{"# v2 git bundle\n" + strings.Repeat("x", 5000) + "\n\n", "longer than"},
	} {
		_, err := ReadBundleHeader(bufio.NewReader(strings.NewReader(tc.in)))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %v, want %q", truncate(tc.in, 60), err, tc.err)
		}
	}
}

func FuzzReadBundle(f *testing.F) {
	h40 := strings.Repeat("a", 40)
	f.Add([]byte("# v2 git bundle\n" + h40 + " refs/heads/main\n\nPACK"))
	f.Add([]byte("# v2 git bundle\n-" + h40 + "\n" + h40 + " refs/heads/x\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadBundle(bytes.NewReader(data))
	})
}
