package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestLocalWalk walks a history with two merges: every commit once, the
// head first, each before its parents, with its parents and its tree.
func TestLocalWalk(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		return testenv.Git(t, dir, append([]string{"-c", "commit.gpgsign=false"}, args...)...)
	}
	commit := func(name, content string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "-A")
		git("commit", "--quiet", "-m", name+" "+content)
		return git("rev-parse", "HEAD")
	}
	git("init", "--quiet", "--initial-branch=main")
	root := commit("README", "x")
	git("checkout", "--quiet", "-b", "side")
	side := commit("fleet/channels/web.yaml", "v1")
	git("checkout", "--quiet", "main")
	main1 := commit("README", "y")
	git("merge", "--quiet", "--no-ff", "-m", "merge side", "side")
	merge1 := git("rev-parse", "HEAD")
	git("checkout", "--quiet", "side")
	side2 := commit("fleet/channels/web.yaml", "v2")
	git("checkout", "--quiet", "main")
	git("merge", "--quiet", "--no-ff", "-m", "merge side again", "side")
	head := git("rev-parse", "HEAD")

	local, err := OpenLocal(filepath.Join(dir, "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	parents := map[string][]string{}
	ids := map[string]string{}
	err = local.Walk(context.Background(), "HEAD", func(c WalkCommit) error {
		order = append(order, c.SHA)
		parents[c.SHA] = c.Parents
		if c.Time.IsZero() || c.Message == "" {
			t.Errorf("commit %s without time or message", c.SHA)
		}
		if c.Files == nil {
			ids[c.SHA] = "no fleet directory"
			return nil
		}
		id, err := c.Files.ObjectID("channels/web.yaml")
		if err != nil {
			return err
		}
		data, err := c.Files.ReadFile("channels/web.yaml")
		if err != nil {
			return err
		}
		ids[c.SHA] = string(data) + " " + id[:7]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{head, side, main1, root, merge1, side2}
	if len(order) != len(want) || order[0] != head || !sameSet(order, want) {
		t.Fatalf("walk %v, want the head first then %v", order, want)
	}
	for i, sha := range order {
		for _, p := range parents[sha] {
			if j := slices.Index(order, p); j < i {
				t.Errorf("commit %s is walked at %d, after its parent %s (%d)", sha, i, p, j)
			}
		}
	}
	if !slices.Equal(parents[merge1], []string{main1, side}) || len(parents[root]) != 0 {
		t.Errorf("parents of the merge %v, of the root %v", parents[merge1], parents[root])
	}
	v1, v2 := git("rev-parse", side+":fleet/channels/web.yaml")[:7], git("rev-parse", side2+":fleet/channels/web.yaml")[:7]
	for sha, want := range map[string]string{root: "no fleet directory", main1: "no fleet directory", side: "v1 " + v1, merge1: "v1 " + v1, side2: "v2 " + v2, head: "v2 " + v2} {
		if ids[sha] != want {
			t.Errorf("files of %s: %q, want %q", sha, ids[sha], want)
		}
	}

	// A missing name and the callback's error.
	stop := errors.New("stop")
	err = local.Walk(context.Background(), "main", func(c WalkCommit) error {
		if _, err := c.Files.ObjectID("channels/none.yaml"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ObjectID of a missing file: %v", err)
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("walk returned %v, want the callback's error", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
