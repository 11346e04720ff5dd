package cli

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleCopy copies examples/fleet-repo into a new directory.
func exampleCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(exampleFleet)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gitFleet is a copy of the example fleet repo in a Git repository, for
// commands that compare revisions.
type gitFleet struct {
	t   *testing.T
	dir string
}

// newGitFleet commits a copy of the example fleet repo as the first commit.
func newGitFleet(t *testing.T) *gitFleet {
	t.Helper()
	g := &gitFleet{t: t, dir: exampleCopy(t)}
	g.git("init", "--quiet", "--initial-branch=main")
	g.commit("example fleet")
	return g
}

func (g *gitFleet) git(args ...string) string {
	g.t.Helper()
	return g.gitEnv(nil, args...)
}

// gitEnv runs git with extra environment variables.
func (g *gitFleet) gitEnv(env []string, args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = g.dir
	// Fixed dates make the commit hashes, and so the golden files, stable.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// edit replaces old with new in the file name, which must contain it.
func (g *gitFleet) edit(name, old, new string) {
	g.t.Helper()
	editFile(g.t, filepath.Join(g.dir, name), old, new)
}

func (g *gitFleet) write(name, content string) {
	g.t.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gitFleet) commit(msg string) string {
	g.t.Helper()
	g.git("add", "-A")
	g.git("commit", "--quiet", "--allow-empty", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

// editFile replaces old with new in the file at path, which must contain it.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), fs.FileMode(0o644)); err != nil {
		t.Fatal(err)
	}
}
