package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestClusterServesAPIAndKubeconfig(t *testing.T) {
	c := NewCluster(t, ClusterOptions{})
	ctx := context.Background()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default"},
		Data:       map[string]string{"k": "v"},
	}
	if err := c.Client.Create(ctx, cm); err != nil {
		t.Fatalf("create ConfigMap: %v", err)
	}
	kubectl, err := binary("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", c.Kubeconfig, "get", "configmap", "hello", "-n", "default", "-o", "jsonpath={.data.k}").CombinedOutput()
	if err != nil || string(out) != "v" {
		t.Fatalf("kubectl get configmap = %q, %v; want %q", out, err, "v")
	}
	out, err = exec.Command(kubectl, "--kubeconfig", c.Kubeconfig, "version", "-o", "json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"gitVersion": "v`+KubernetesVersion+`"`) {
		t.Fatalf("kubectl version does not report v%s: %v\n%s", KubernetesVersion, err, out)
	}
}

func TestFullClusterMakesDeploymentAvailable(t *testing.T) {
	c := NewCluster(t, ClusterOptions{Full: true})
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/web:1.0.0"}}},
			},
		},
	}
	if err := c.Client.Create(ctx, dep); err != nil {
		t.Fatalf("create Deployment: %v", err)
	}
	var last *status.Result
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var got appsv1.Deployment
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(dep), &got); err != nil {
			t.Fatal(err)
		}
		got.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&got)
		if err != nil {
			t.Fatal(err)
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: u})
		if err != nil {
			t.Fatal(err)
		}
		last = res
		if res.Status == status.CurrentStatus && got.Status.AvailableReplicas == 3 {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("Deployment did not become Current with 3 available replicas; last kstatus %v: %s", last.Status, last.Message)
}

func TestGitServerServesClonesOverSSH(t *testing.T) {
	s := NewGitServer(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "fleet.yaml"), []byte("kind: Fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := SeedRepo(t, s, "fleet.git", "main", src)

	clone := filepath.Join(t.TempDir(), "clone")
	env := []string{"GIT_SSH_COMMAND=" + s.GitSSHCommand(s.DeployKey.PrivatePath)}
	if _, err := RunGit(t.TempDir(), env, "clone", "--quiet", "--branch", "main", url, clone); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(clone, "fleet.yaml"))
	if err != nil || string(data) != "kind: Fleet\n" {
		t.Fatalf("cloned fleet.yaml = %q, %v", data, err)
	}

	// A key that is not in authorized_keys is refused.
	stranger, err := WriteKeyPair(filepath.Join(t.TempDir(), "stranger"), "stranger", "")
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{"GIT_SSH_COMMAND=" + s.GitSSHCommand(stranger.PrivatePath)}
	if _, err := RunGit(t.TempDir(), refused, "ls-remote", url); err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("ls-remote with an unauthorized key: err = %v, want Permission denied", err)
	}
}

func TestGitServerStopLeavesNothingBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: needs sshd")
	}
	s, err := StartGitServer()
	if err != nil {
		t.Fatal(err)
	}
	pid := s.sshd.cmd.Process.Pid
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if sshBanner(s.Addr()) {
		t.Fatalf("sshd still answers on %s after Shutdown", s.Addr())
	}
	if err := s.Start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if !sshBanner(s.Addr()) {
		t.Fatalf("sshd does not answer on %s after restart", s.Addr())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(s.sshd.cmd.Process.Pid, 0) == nil || syscall.Kill(pid, 0) == nil {
		t.Fatal("an sshd process is still alive after Stop")
	}
	if _, err := os.Stat(s.root); !os.IsNotExist(err) {
		t.Fatalf("sshd dir %s still exists after Stop: %v", s.root, err)
	}
}
