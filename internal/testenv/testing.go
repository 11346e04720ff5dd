package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NewCluster starts a test cluster for t and stops it when t ends. Under
// `go test -short` it skips t: the cluster is an integration dependency.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: needs kube-apiserver")
	}
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	c, err := StartCluster(context.Background(), opts)
	if err != nil {
		t.Fatalf("starting test cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
				if log := tailFile(filepath.Join(c.Dir, name+".log"), 15); log != "" {
					t.Logf("%s log tail:\n%s", name, log)
				}
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping test cluster: %v", err)
		}
	})
	return c
}

// NewGitServer starts an sshd Git server for t and stops it when t ends. Under
// `go test -short` it skips t: sshd is an integration dependency.
func NewGitServer(t testing.TB) *GitServer {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: needs sshd")
	}
	s, err := StartGitServer()
	if err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log tail:\n%s", s.Log())
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping sshd: %v", err)
		}
	})
	return s
}

// Git runs the git command line in dir with a fixed identity and dates
// derived from the environment, and returns its trimmed standard output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := RunGit(dir, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunGit runs git in dir with extra environment variables and a fixed
// identity, returning its trimmed standard output.
func RunGit(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=syncd test", "GIT_AUTHOR_EMAIL=test@syncd.dev",
		"GIT_COMMITTER_NAME=syncd test", "GIT_COMMITTER_EMAIL=test@syncd.dev",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir,
	)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s (in %s): %w: %s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// SeedRepo creates bare repository name on s with branch holding one commit
// of the files under src (for example examples/fleet-repo), pushed over SSH
// with the deploy key. It returns the repository's ssh:// URL.
func SeedRepo(t testing.TB, s *GitServer, name, branch, src string) string {
	t.Helper()
	if _, err := s.CreateRepo(name, branch); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
	Git(t, work, "init", "--quiet", "--initial-branch="+branch)
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "--quiet", "--allow-empty", "-m", "seed "+filepath.Base(src))
	url := s.URL(name)
	if _, err := RunGit(work, []string{"GIT_SSH_COMMAND=" + s.GitSSHCommand(s.DeployKey.PrivatePath)}, "push", "--quiet", url, branch); err != nil {
		t.Fatalf("pushing seed commit: %v\nsshd log:\n%s", err, s.Log())
	}
	return url
}
