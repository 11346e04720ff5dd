package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// linkedFiles is a repo with an executable and symlinks that stay inside it.
func linkedFiles() map[string]string {
	files := fleetFiles()
	files["hack/run.sh"] = "#!/bin/sh\necho hi\n"
	files["current"] = "-> products/web/releases/1.0.0"       // directory link
	files["sites/a/fleet.yaml"] = "-> ../../fleet.yaml"       // file link
	files["sites/a/obj1.yaml"] = "-> ../../current/obj1.yaml" // through another link
	return files
}

// seedLinked makes a fixture of linkedFiles with hack/run.sh executable.
func seedLinked(t *testing.T) *fixture {
	f := newFixture(t, linkedFiles())
	if err := os.Chmod(filepath.Join(f.work, "hack", "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.git(f.work, "add", "hack/run.sh")
	f.git(f.work, "commit", "--quiet", "-m", "executable")
	f.git(f.work, "push", "--quiet", "origin", "main")
	return f
}

func TestSnapshotIsAnFS(t *testing.T) {
	f := seedLinked(t)
	s := f.source(nil)
	ctx := context.Background()
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if sn.SHA() != rev.SHA {
		t.Fatalf("SHA() = %s", sn.SHA())
	}
	// fstest.TestFS checks Open, ReadDir, ReadFile, Stat, Lstat and ReadLink
	// against each other.
	if err := fstest.TestFS(sn, "fleet.yaml", "hack/run.sh", "current", "sites/a/obj1.yaml"); err != nil {
		t.Fatal(err)
	}

	checks := []struct {
		name, want string
	}{
		{"current/obj3.yaml", "n: 3\n"},
		{"sites/a/fleet.yaml", "kind: Fleet\n"},
		{"sites/a/obj1.yaml", "n: 1\n"},
	}
	for _, c := range checks {
		if got, err := fs.ReadFile(sn, c.name); err != nil || string(got) != c.want {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if info, err := fs.Stat(sn, "hack/run.sh"); err != nil || info.Mode() != 0o755 {
		t.Errorf("Stat(hack/run.sh) mode = %v, %v; want 0755", info.Mode(), err)
	}
	if info, err := fs.Stat(sn, "current"); err != nil || !info.IsDir() {
		t.Errorf("Stat(current) through the link = %v, %v; want a directory", info, err)
	}
	if info, err := fs.Lstat(sn, "current"); err != nil || info.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat(current) = %v, %v; want a symlink", info, err)
	}
	if target, err := fs.ReadLink(sn, "sites/a/fleet.yaml"); err != nil || target != "../../fleet.yaml" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	entries, err := fs.ReadDir(sn, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "channels current fleet.yaml hack products sites" {
		t.Errorf("ReadDir(.) = %s", got)
	}
}

// A link to a missing file inside the repo is harmless: it reads as not
// existing, and the link itself reads back.
func TestDanglingLinkInsideTheRepo(t *testing.T) {
	f := seedLinked(t)
	f.push("main", "dangling link", map[string]string{"dangling": "-> products/none.yaml"})
	s := f.source(nil)
	ctx := context.Background()
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Open("dangling"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(dangling) = %v, want not exist", err)
	}
	if target, err := fs.ReadLink(sn, "dangling"); err != nil || target != "products/none.yaml" {
		t.Errorf("ReadLink(dangling) = %q, %v", target, err)
	}
}

func TestSymlinksEscapingTheRepoAreRefused(t *testing.T) {
	files := fleetFiles()
	files["inside"] = "-> fleet.yaml"
	f := newFixture(t, files)
	ctx := context.Background()

	tests := []struct {
		link, target string
	}{
		{"x", "../../etc/passwd"},
		{"abs", "/etc/passwd"},
		{"sites/a/up", "../../../outside"},
	}
	for _, tc := range tests {
		t.Run(tc.link, func(t *testing.T) {
			// Made with real git, as a person would: ln -s TARGET LINK.
			link := filepath.Join(f.work, tc.link)
			if err := os.Symlink(tc.target, link); err != nil {
				t.Fatal(err)
			}
			f.git(f.work, "add", tc.link)
			f.git(f.work, "commit", "--quiet", "-m", "link "+tc.link)
			f.git(f.work, "push", "--quiet", "origin", "main")
			t.Cleanup(func() {
				f.git(f.work, "rm", "--quiet", tc.link)
				f.git(f.work, "commit", "--quiet", "-m", "unlink "+tc.link)
				f.git(f.work, "push", "--quiet", "origin", "main")
			})

			s := f.source(nil)
			rev, _, err := s.Fetch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sn, err := s.Snapshot(ctx, rev.SHA)
			if err != nil {
				t.Fatal(err)
			}
			want := "symlink " + tc.link + " points to " + tc.target + ", outside the repository"
			if _, err := fs.ReadFile(sn, tc.link); !errors.Is(err, ErrSymlinkEscapes) || !strings.Contains(err.Error(), want) {
				t.Errorf("ReadFile(%s) = %v; want ErrSymlinkEscapes %q", tc.link, err, want)
			}
			if target, err := fs.ReadLink(sn, tc.link); err != nil || target != tc.target {
				t.Errorf("ReadLink(%s) = %q, %v", tc.link, target, err)
			}
			if got, err := fs.ReadFile(sn, "inside"); err != nil || string(got) != "kind: Fleet\n" {
				t.Errorf("a link inside the repo: %q, %v", got, err)
			}
		})
	}
}

func TestSnapshotDoesNotChangeWithLaterFetches(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()
	rev1, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Snapshot(ctx, rev1.SHA)
	if err != nil {
		t.Fatal(err)
	}
	f.push("main", "change", map[string]string{"fleet.yaml": "kind: Fleet # v2\n", "sites/a/site.yaml": ""})
	rev2, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fs.ReadFile(old, "fleet.yaml"); err != nil || string(got) != "kind: Fleet\n" {
		t.Errorf("old snapshot fleet.yaml = %q, %v", got, err)
	}
	if _, err := fs.Stat(old, "sites/a/site.yaml"); err != nil {
		t.Errorf("old snapshot lost a file deleted later: %v", err)
	}
	cur, err := s.Snapshot(ctx, rev2.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fs.ReadFile(cur, "fleet.yaml"); err != nil || string(got) != "kind: Fleet # v2\n" {
		t.Errorf("new snapshot fleet.yaml = %q, %v", got, err)
	}
	if _, err := fs.Stat(cur, "sites/a/site.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new snapshot still has a deleted file: %v", err)
	}
	if _, err := s.Snapshot(ctx, strings.Repeat("ab", 20)); err == nil {
		t.Error("Snapshot of a commit not in the cache succeeded")
	}
	if _, err := s.Snapshot(ctx, "main"); err == nil {
		t.Error("Snapshot of a branch name succeeded; want a full hash")
	}
}

func TestSnapshotReadsWhileFetching(t *testing.T) {
	files := fleetFiles()
	f := newFixture(t, files)
	s := f.source(nil)
	ctx := context.Background()
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	const readers = 2
	errs := make(chan error, readers)
	for range readers {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if err := checkContent(sn, files); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 3 {
		f.push("main", fmt.Sprintf("change %d", i), map[string]string{"fleet.yaml": fmt.Sprintf("kind: Fleet # %d\n", i)})
		if _, _, err := s.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatalf("reading a snapshot during fetches: %v", err)
		}
	}
}
