package gitsource

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// editsOf turns files (an empty content removes) into WorkTree edits.
func editsOf(files map[string]string, exec ...string) map[string]*edit {
	edits := map[string]*edit{}
	for name, content := range files {
		if content == "" {
			edits[name] = &edit{removed: true}
			continue
		}
		edits[name] = &edit{data: []byte(content), mode: filemode.Regular}
	}
	for _, name := range exec {
		edits[name].mode = filemode.Executable
	}
	return edits
}

// gitWriteTree applies files to dir and returns the tree git computes.
func gitWriteTree(t *testing.T, dir string, files map[string]string, exec ...string) string {
	t.Helper()
	for name, content := range files {
		if content == "" {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			delete(files, name)
		}
	}
	writeFiles(t, dir, files)
	for _, name := range exec {
		if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, dir, "add", "-A")
	return testenv.Git(t, dir, "write-tree")
}

func TestTreeBuilderMatchesGit(t *testing.T) {
	dir := t.TempDir()
	testenv.Git(t, dir, "init", "--quiet")
	st := memory.NewStorage()
	rounds := []struct {
		name  string
		files map[string]string
		exec  []string
	}{{
		name: "create, with names whose order differs between files and directories",
		files: map[string]string{
			"a.b": "1\n", "a/x": "2\n", "a-b": "3\n", "a0": "4\n", "b/c/d/e.txt": "5\n",
			"run.sh": "#!/bin/sh\n", "channels/web.yaml": "dev: 1.0.0\n",
		},
		exec: []string{"run.sh"},
	}, {
		name:  "edit, remove the only file of a deep directory, add one",
		files: map[string]string{"a/x": "2b\n", "b/c/d/e.txt": "", "z/new.yaml": "n\n"},
	}, {
		name:  "remove everything",
		files: map[string]string{"a.b": "", "a/x": "", "a-b": "", "a0": "", "run.sh": "", "channels/web.yaml": "", "z/new.yaml": ""},
	}}
	var base plumbing.Hash
	for _, r := range rounds {
		b := &treeBuilder{st: st}
		got, err := b.build(base, editsOf(r.files, r.exec...))
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if want := gitWriteTree(t, dir, r.files, r.exec...); got.String() != want {
			t.Fatalf("%s: tree %s, git write-tree says %s", r.name, got, want)
		}
		base = got
	}
	if base.String() != "4b825dc642cb6eb9a060e54bf8d69288fbee4904" {
		t.Fatalf("removing every file gave %s, not the empty tree", base)
	}
}

func TestTreeBuilderRewritesOnlyEditedPaths(t *testing.T) {
	st := memory.NewStorage()
	files := map[string]string{}
	for _, d := range []string{"products/a", "products/b", "sites/x", "sites/y"} {
		for _, f := range []string{"1.yaml", "2.yaml"} {
			files[d+"/"+f] = d + f
		}
	}
	base, err := (&treeBuilder{st: st}).build(plumbing.ZeroHash, editsOf(files))
	if err != nil {
		t.Fatal(err)
	}
	b := &treeBuilder{st: st}
	if _, err := b.build(base, editsOf(map[string]string{"sites/x/1.yaml": "changed"})); err != nil {
		t.Fatal(err)
	}
	// The blob, sites/x, sites and the root: nothing under products.
	if len(b.written) != 4 {
		t.Fatalf("one edit wrote %d objects, want 4", len(b.written))
	}
	for _, h := range b.written {
		if obj, err := st.EncodedObject(plumbing.AnyObject, h); err != nil {
			t.Fatal(err)
		} else if obj.Type() == plumbing.TreeObject {
			tree, _ := object.DecodeTree(st, obj)
			for _, e := range tree.Entries {
				if e.Name == "a" || e.Name == "b" {
					t.Fatalf("rewrote the products tree")
				}
			}
		}
	}
}

func TestTreeBuilderRefusesFileDirectoryClashes(t *testing.T) {
	st := memory.NewStorage()
	base, err := (&treeBuilder{st: st}).build(plumbing.ZeroHash, editsOf(map[string]string{"a/b": "1", "f": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, edits := range []map[string]string{{"a": "file over a directory"}, {"f/x": "directory under a file"}} {
		if _, err := (&treeBuilder{st: st}).build(base, editsOf(edits)); err == nil {
			t.Errorf("build(%v) succeeded", edits)
		}
	}
}

// testSnapshot stores files in a new local repository and returns a
// Snapshot of their tree, without a server.
func testSnapshot(t *testing.T, files map[string]string) *Snapshot {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo.git")
	st, err := initCache(dir, Endpoint{Scheme: "file", Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := (&treeBuilder{st: st}).build(plumbing.ZeroHash, editsOf(files))
	if err != nil {
		t.Fatal(err)
	}
	src := &Source{log: hclog.NewNullLogger()}
	return &Snapshot{src: src, sha: strings.Repeat("0", 40), root: root, st: st, trees: map[plumbing.Hash][]object.TreeEntry{}}
}

func TestWorkTreeOverlaysEdits(t *testing.T) {
	base := testSnapshot(t, map[string]string{
		"fleet.yaml": "kind: Fleet\n", "channels/web.yaml": "dev: 1.0.0\n", "channels/api.yaml": "dev: 2.0.0\n",
	})
	w := newWorkTree(base)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.WriteFile("channels/web.yaml", []byte("dev: 1.1.0\n")))
	must(w.WriteFile("sites/a/site.yaml", []byte("kind: Site\n")))
	must(w.Remove("channels/api.yaml"))

	if err := fstest.TestFS(w, "fleet.yaml", "channels/web.yaml", "sites/a/site.yaml"); err != nil {
		t.Fatal(err)
	}
	if got, err := w.ReadFile("channels/web.yaml"); err != nil || string(got) != "dev: 1.1.0\n" {
		t.Errorf("edited file = %q, %v", got, err)
	}
	if got, err := w.ReadFile("fleet.yaml"); err != nil || string(got) != "kind: Fleet\n" {
		t.Errorf("untouched file = %q, %v", got, err)
	}
	if _, err := w.ReadFile("channels/api.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed file: %v", err)
	}
	entries, err := fs.ReadDir(w, "channels")
	if err != nil || len(entries) != 1 || entries[0].Name() != "web.yaml" {
		t.Errorf("ReadDir(channels) = %v, %v", entries, err)
	}
	if got, err := base.ReadFile("channels/web.yaml"); err != nil || string(got) != "dev: 1.0.0\n" {
		t.Errorf("edits leaked into the base: %q, %v", got, err)
	}

	refused := map[string]error{
		"write .git":               w.WriteFile(".git/config", nil),
		"write outside":            w.WriteFile("../x", nil),
		"write over a directory":   w.WriteFile("channels", nil),
		"write under a file":       w.WriteFile("fleet.yaml/x", nil),
		"remove a missing file":    w.Remove("nope.yaml"),
		"remove a directory":       w.Remove("channels"),
		"remove a removed file":    w.Remove("channels/api.yaml"),
		"write under a new file":   w.WriteFile("sites/a/site.yaml/x", nil),
		"write the root directory": w.WriteFile(".", nil),
	}
	for name, err := range refused {
		if err == nil {
			t.Errorf("%s succeeded", name)
		}
	}
}
