package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// pushOrphans pushes one single-commit branch per name, holding file
// status.yaml with content, in one push, and returns their commits.
func (f *fixture) pushOrphans(contents map[string]string) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	var refspecs []string
	for branch, content := range contents {
		f.git(f.work, "checkout", "--quiet", "--orphan", branch)
		f.git(f.work, "rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".")
		writeFiles(f.t, f.work, map[string]string{"status.yaml": content})
		f.git(f.work, "add", "status.yaml")
		f.git(f.work, "commit", "--quiet", "-m", "status of "+branch)
		out[branch] = f.git(f.work, "rev-parse", "HEAD")
		refspecs = append(refspecs, "+"+out[branch]+":refs/heads/"+branch)
		f.git(f.work, "checkout", "--quiet", "--detach")
		f.git(f.work, "branch", "--quiet", "-D", branch)
	}
	f.git(f.work, append([]string{"push", "--quiet", "origin"}, refspecs...)...)
	f.git(f.work, "checkout", "--quiet", "-f", "main")
	return out
}

func TestFetchBranches(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, map[string]string{"fleet.yaml": "kind: Fleet\n"})
	want := f.pushOrphans(map[string]string{
		"syncd/status/eu-1": "site: eu-1\n", "syncd/status/eu-2": "site: eu-2\n", "syncd/status/us-1": "site: us-1\n",
		"syncd/statusx": "not a status branch\n",
	})
	delete(want, "syncd/statusx")
	s := f.source(nil)

	got, err := s.FetchBranches(ctx, "syncd/status/")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("FetchBranches = %v, want %v", got, want)
	}
	if s.Sessions() != 1 || s.fetches.Load() != 1 {
		t.Fatalf("%d sessions and %d packs for 3 branches, want 1 and 1", s.Sessions(), s.fetches.Load())
	}
	for branch, sha := range want {
		data, err := s.ReadFileAt(ctx, sha, "status.yaml")
		if err != nil || string(data) != "site: "+strings.TrimPrefix(branch, "syncd/status/")+"\n" {
			t.Fatalf("ReadFileAt(%s) = %q, %v", branch, data, err)
		}
	}
	if _, err := s.ReadFileAt(ctx, want["syncd/status/eu-1"], "other.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadFileAt of a missing file = %v, want fs.ErrNotExist", err)
	}

	// Nothing new: one more listing, no pack.
	if again, err := s.FetchBranches(ctx, "syncd/status/"); err != nil || !maps.Equal(again, want) {
		t.Fatalf("FetchBranches again = %v, %v", again, err)
	}
	if s.Sessions() != 2 || s.fetches.Load() != 1 {
		t.Fatalf("unchanged branches: %d sessions and %d packs, want 2 and 1", s.Sessions(), s.fetches.Load())
	}

	// One branch moves, one is deleted: its tracking ref goes too.
	moved := f.pushOrphans(map[string]string{"syncd/status/eu-1": "site: eu-1\nrevision: b\n"})
	f.git(f.work, "push", "--quiet", "origin", ":syncd/status/us-1")
	got, err = s.FetchBranches(ctx, "syncd/status/")
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"syncd/status/eu-1": moved["syncd/status/eu-1"], "syncd/status/eu-2": want["syncd/status/eu-2"]}
	if !maps.Equal(got, want) {
		t.Fatalf("after a change: %v, want %v", got, want)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := tracking(s.store, "syncd/status/us-1")
	unlock()
	if err != nil || !h.IsZero() {
		t.Fatalf("tracking ref of the deleted branch: %s, %v", h, err)
	}
}

// TestSourcesShareACacheDir runs sources of two "processes" on one cache
// directory at once: the file lock makes them take turns.
func TestSourcesShareACacheDir(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, map[string]string{"fleet.yaml": "kind: Fleet\n"})
	want := f.pushOrphans(map[string]string{"syncd/status/eu-1": "site: eu-1\n", "syncd/status/eu-2": "site: eu-2\n"})
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 2 {
		s := f.source(func(o *Options) { o.CacheDir, o.Timeout = dir, 2*time.Minute })
		wg.Go(func() {
			for range 1 {
				if _, _, err := s.Fetch(ctx); err != nil {
					errs <- err
					return
				}
				got, err := s.FetchBranches(ctx, "syncd/status/")
				if err != nil {
					errs <- err
					return
				}
				if !maps.Equal(got, want) {
					errs <- errors.New("wrong branches")
					return
				}
				if _, err := s.ReadFileAt(ctx, want["syncd/status/eu-2"], "status.yaml"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFileLockWaitHonoursTheContext(t *testing.T) {
	path := t.TempDir() + "/x.lock"
	held, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lockFile(ctx, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("lockFile while held, with a cancelled context = %v", err)
	}
	held.unlock()
	again, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	again.unlock()
}
