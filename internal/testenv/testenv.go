// Package testenv starts the real parts syncd's tests and demo run against: etcd
// and kube-apiserver through controller-runtime's envtest (optionally with
// kube-controller-manager, kube-scheduler and kwok so workloads become
// Available), and an OpenSSH sshd serving bare Git repositories.
//
// Every process it starts is stopped by the matching Stop method, and tests
// register that with t.Cleanup. Processes leaked by a test binary that died
// (a panic or a timeout) are reaped by the next Start.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KubernetesVersion is the control-plane version `make testbin` builds.
const KubernetesVersion = "1.36.3"

// assetsEnv is controller-runtime envtest's variable naming the binaries directory.
const assetsEnv = "KUBEBUILDER_ASSETS"

// BinDir returns the directory holding the test binaries: $KUBEBUILDER_ASSETS
// when set, else bin/k8s/<KubernetesVersion> at the repository root. It fails
// with the command that builds them when kube-apiserver is not there.
func BinDir() (string, error) {
	dir := os.Getenv(assetsEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "k8s", KubernetesVersion)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("test binary %s not found in %s: run `make testbin` at the repository root to build it", name, dir)
		}
	}
	return dir, nil
}

// RepoRoot walks up from the working directory to the directory holding
// syncd's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isSyncdModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod of module github.com/syncd-dev/syncd above the working directory")
		}
		dir = parent
	}
}

func isSyncdModule(goMod []byte) bool {
	const want = "module github.com/syncd-dev/syncd\n"
	return len(goMod) >= len(want) && string(goMod[:len(want)]) == want
}

// binary returns the path of a test binary, or an error naming `make testbin`.
func binary(name string) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("test binary %s not found in %s: run `make testbin`", name, dir)
	}
	return p, nil
}
