// Command demo runs syncd end to end on this machine: a local Kubernetes
// control plane with a fake node (kwok), a local OpenSSH Git server serving
// examples/fleet-repo as a bare repository, and `syncd sync --once` for one
// site over SSH with a deploy key. It then keeps everything up, re-syncing
// every few seconds, so a commit pushed to the fleet repo shows up in the
// cluster; Ctrl-C tears it all down.
//
//	make demo                      # or: go run ./hack/demo -site edge-store-042
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syncd-dev/syncd/internal/testenv"
)

func main() {
	site := flag.String("site", "gcp-eu-west-1-staging", "site of examples/fleet-repo to reconcile")
	every := flag.Duration("every", 5*time.Second, "re-sync interval while the demo runs")
	exit := flag.Bool("exit", false, "tear down after the first sync instead of waiting for Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *site, *every, *exit); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, site string, every time.Duration, exit bool) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	syncd := filepath.Join(root, "bin", "syncd")
	if _, err := os.Stat(syncd); err != nil {
		return fmt.Errorf("%s not found: run `make build` (make demo does)", syncd)
	}
	work := filepath.Join(root, "_output", "demo")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	step("starting a local cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok fake node")
	cluster, err := testenv.StartCluster(ctx, testenv.ClusterOptions{Full: true, LogDir: work})
	if err != nil {
		return err
	}
	defer cluster.Stop()

	step("starting a local SSH Git server (OpenSSH sshd on 127.0.0.1)")
	git, err := testenv.StartGitServer()
	if err != nil {
		return err
	}
	defer git.Stop()
	url, err := seed(git, filepath.Join(root, "examples", "fleet-repo"), filepath.Join(work, "seed"))
	if err != nil {
		return err
	}

	args := []string{"sync", "--once", "--site", site, "--repo", url,
		"--identity", git.DeployKey.PrivatePath, "--known-hosts", git.KnownHosts,
		"--kubeconfig", cluster.Kubeconfig, "--cache-dir", filepath.Join(work, "cache"),
		"--health-timeout", "60s"}
	step("syncd " + strings.Join(args, " "))
	if err := syncOnce(ctx, syncd, args); err != nil {
		return err
	}
	bin, _ := testenv.BinDir()
	fmt.Printf(`
The demo is up. In another terminal:

  export KUBECONFIG=%[1]s
  %[2]s/kubectl get deploy,svc,cm -A -l syncd.dev/site=%[3]s

Change the fleet with git, as people do:

  export GIT_SSH_COMMAND=%[4]q
  git clone %[5]s /tmp/fleet && cd /tmp/fleet
  # e.g. bump a channel: edit channels/auth-service.yaml, or a replica count in a release
  git commit -am "bump" && git push

syncd re-syncs every %[6]s here; watch this terminal. Ctrl-C stops everything.
`, cluster.Kubeconfig, bin, site, git.GitSSHCommand(git.DeployKey.PrivatePath), url, every)
	if exit {
		return nil
	}
	return loop(ctx, syncd, args, every)
}

// loop re-syncs until ctx ends (what `syncd run` does properly).
func loop(ctx context.Context, syncd string, args []string, every time.Duration) error {
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping: tearing down the cluster and the Git server")
			return nil
		case <-time.After(every):
		}
		if err := syncOnce(ctx, syncd, args); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "sync failed:", err)
		}
	}
}

func syncOnce(ctx context.Context, syncd string, args []string) error {
	cmd := exec.CommandContext(ctx, syncd, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// seed pushes the example fleet repo to a bare repository on the server.
func seed(git *testenv.GitServer, src, work string) (string, error) {
	if _, err := git.CreateRepo("fleet.git", "main"); err != nil {
		return "", err
	}
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		return "", err
	}
	env := []string{"GIT_SSH_COMMAND=" + git.GitSSHCommand(git.DeployKey.PrivatePath)}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "-A"},
		{"commit", "--quiet", "-m", "example fleet"},
		{"push", "--quiet", git.URL("fleet.git"), "main"},
	} {
		if _, err := testenv.RunGit(work, env, args...); err != nil {
			return "", err
		}
	}
	return git.URL("fleet.git"), nil
}

func step(s string) { fmt.Printf(">> %s\n", s) }
