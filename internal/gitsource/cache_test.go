package gitsource

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkContent reads every file of the snapshot and compares it with files.
func checkContent(sn *Snapshot, files map[string]string) error {
	for name, want := range files {
		got, err := sn.ReadFile(name)
		if err != nil {
			return err
		}
		if string(got) != want {
			return &fs.PathError{Op: "compare", Path: name, Err: fs.ErrInvalid}
		}
	}
	return nil
}

func TestCorruptCacheIsRecloned(t *testing.T) {
	files := fleetFiles()
	f := newFixture(t, files)
	want := f.remote("rev-parse", "main")

	corrupt := map[string]func(t *testing.T, dir string){
		"truncated packs": func(t *testing.T, dir string) {
			for _, p := range glob(t, dir, "objects/pack/*.pack") {
				info, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, info.Size()/2); err != nil {
					t.Fatal(err)
				}
			}
		},
		"packs deleted": func(t *testing.T, dir string) {
			for _, p := range glob(t, dir, "objects/pack/*") {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		},
		"garbage pack index": func(t *testing.T, dir string) {
			for _, p := range glob(t, dir, "objects/pack/*.idx") {
				if err := os.WriteFile(p, []byte("not an index"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		},
		"garbage config": func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[core\x00garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"garbage tracking ref": func(t *testing.T, dir string) {
			ref := filepath.Join(dir, "refs", "remotes", "origin", "main")
			if err := os.WriteFile(ref, []byte("\x00\x01garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"cache directory is a file": func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dir, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range corrupt {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			opts := f.options()
			s1, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s1.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			damage(t, s1.dir)

			// A restarted daemon finds the damage and re-clones.
			var logs logBuffer
			opts.Logger = logs.logger()
			s2, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			rev, _, err := s2.Fetch(ctx)
			if err != nil {
				t.Fatalf("Fetch on a damaged cache: %v\nlog:\n%s", err, logs.String())
			}
			if rev.SHA != want {
				t.Fatalf("Fetch = %s, want %s", rev.SHA, want)
			}
			sn, err := s2.Snapshot(ctx, rev.SHA)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkContent(sn, files); err != nil {
				t.Fatalf("reading the recovered cache: %v\nlog:\n%s", err, logs.String())
			}
			// A garbage ref names no object: the head is simply fetched
			// again. Every other damage needs a new repository.
			if name == "garbage tracking ref" {
				return
			}
			if !strings.Contains(logs.String(), "re-cloning") && !strings.Contains(logs.String(), "starting a new one") {
				t.Fatalf("recovery was not logged:\n%s", logs.String())
			}
		})
	}
}

func TestDamageFoundByReaderIsReclonedOnNextFetch(t *testing.T) {
	files := fleetFiles()
	f := newFixture(t, files)
	ctx := context.Background()
	s := f.source(nil)
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the objects under a running Source: its own check already
	// passed, so only reading finds it.
	for _, p := range glob(t, s.dir, "objects/pack/*.pack") {
		if err := os.Truncate(p, 12); err != nil {
			t.Fatal(err)
		}
	}
	sn, err := s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkContent(sn, files); err == nil {
		t.Fatal("reading a truncated pack succeeded")
	}
	if !s.suspect.Load() {
		t.Fatal("a failed read did not mark the cache for re-cloning")
	}
	if _, _, err := s.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	sn, err = s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkContent(sn, files); err != nil {
		t.Fatalf("after re-clone: %v", err)
	}
}

func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s in %s (%v)", pattern, dir, err)
	}
	return m
}
