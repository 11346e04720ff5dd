package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// buildSyncd builds the syncd binary for tests that run it as a process.
func buildSyncd(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "syncd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/syncd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// bigFleet is a bare repo with one site "big" and products × 4 ConfigMaps.
func bigFleet(t *testing.T, products int) string {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"fleet.yaml":                           "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: big}\nspec: {channels: [prod]}\n",
		"sites/big/site.yaml":                  "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: big}\nspec: {channel: prod}\n",
		"products/p000/releases/1.0.0/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: big}\n",
	}
	for i := 0; i < products; i++ {
		p := fmt.Sprintf("p%03d", i)
		files["products/"+p+"/product.yaml"] = "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: " + p + "}\nspec: {targets: \"true\", namespace: big}\n"
		files["channels/"+p+".yaml"] = "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: " + p + "}\nspec: {prod: 1.0.0}\n"
		var docs []string
		for j := 0; j < 4; j++ {
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s-%d}\ndata: {k: v%d}\n", p, j, j))
		}
		files["products/"+p+"/releases/1.0.0/objects.yaml"] = strings.Join(docs, "---\n")
		kust := "resources: [objects.yaml]\n"
		if i == 0 {
			kust = "resources: [ns.yaml, objects.yaml]\n"
		}
		files["products/"+p+"/releases/1.0.0/kustomization.yaml"] = kust
	}
	for name, content := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, src, "init", "--quiet", "--initial-branch=main")
	testenv.Git(t, src, "add", "-A")
	testenv.Git(t, src, "commit", "--quiet", "-m", "big fleet")
	bare := filepath.Join(t.TempDir(), "fleet.git")
	testenv.Git(t, src, "clone", "--quiet", "--bare", src, bare)
	return "file://" + bare
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// siteConfigMaps counts the ConfigMaps labelled for site big.
func siteConfigMaps(t *testing.T, c client.Client) int {
	var list corev1.ConfigMapList
	if err := c.List(context.Background(), &list, client.InNamespace("big"), client.MatchingLabels{"syncd.dev/site": "big"}); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func startRun(t *testing.T, bin, repo, kubeconfig, cache string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", "--site", "big", "--repo", repo, "--kubeconfig", kubeconfig, "--cache-dir", cache,
		"--listen", freeAddr(t), "--interval", "1s", "--health-timeout", "0s")
	logFile, err := os.Create(filepath.Join(t.TempDir(), "syncd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func waitCount(t *testing.T, c client.Client, what string, limit time.Duration, ok func(int) bool) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if n := siteConfigMaps(t, c); ok(n) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (have %d)", what, limit, siteConfigMaps(t, c))
	return 0
}

func TestRunKilledOrStoppedMidApplyConverges(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	bin := buildSyncd(t)
	repo := bigFleet(t, 125) // 500 ConfigMaps
	cache := t.TempDir()

	// kill -9 in the middle of the first apply.
	first := startRun(t, bin, repo, c.Kubeconfig, cache)
	n := waitCount(t, c.Client, "apply under way", 60*time.Second, func(n int) bool { return n >= 40 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	partial := siteConfigMaps(t, c.Client)
	t.Logf("killed with %d..%d of 500 ConfigMaps applied", n, partial)
	if partial >= 500 {
		t.Fatalf("the apply had finished (%d objects) before the kill; make the fleet bigger", partial)
	}

	// Restart, then SIGTERM in the middle of the apply: exit 0, promptly.
	second := startRun(t, bin, repo, c.Kubeconfig, cache)
	waitCount(t, c.Client, "second apply under way", 60*time.Second, func(n int) bool { return n >= partial+40 })
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("syncd run after SIGTERM mid-apply: %v, want exit 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("syncd run did not exit within 15s of SIGTERM")
	}
	t.Logf("SIGTERM with %d of 500 ConfigMaps applied", siteConfigMaps(t, c.Client))

	// Restart: converges, and every object is in an inventory (no orphans).
	third := startRun(t, bin, repo, c.Kubeconfig, cache)
	waitCount(t, c.Client, "converged after restart", 120*time.Second, func(n int) bool { return n == 500 })
	var invs corev1.ConfigMapList
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.Client.List(context.Background(), &invs, client.InNamespace("syncd-system"), client.MatchingLabels{"syncd.dev/inventory": "true", "syncd.dev/site": "big"}); err != nil {
			t.Fatal(err)
		}
		entries := 0
		for _, cm := range invs.Items {
			entries += len(strings.Split(strings.TrimSpace(cm.Data["objects"]), "\n"))
		}
		if len(invs.Items) == 125 && entries == 501 { // 500 ConfigMaps + the Namespace
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inventories: %d ConfigMaps with %d entries, want 125 with 501", len(invs.Items), entries)
		}
		time.Sleep(100 * time.Millisecond)
	}

	_ = third.Process.Signal(syscall.SIGTERM)
	_ = third.Wait()
}
