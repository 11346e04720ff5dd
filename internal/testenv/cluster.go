package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// ClusterOptions chooses what runs beside etcd and kube-apiserver.
type ClusterOptions struct {
	// Full also starts kube-controller-manager, kube-scheduler and kwok with
	// one fake node, so Deployments create Pods that become Ready.
	Full bool
	// LogDir receives one log file per component; a temporary directory when empty.
	LogDir string
}

// Cluster is a running test control plane.
type Cluster struct {
	// Config reaches the API server as a cluster admin (system:masters).
	Config *rest.Config
	// Client is a controller-runtime client built from Config.
	Client client.Client
	// Kubeconfig is the path of a kubeconfig file for Config, for CLI tests.
	Kubeconfig string
	// Dir holds the kubeconfig and the component logs.
	Dir string

	env     *envtest.Environment
	reaper  reaper
	extra   []*Process
	envPIDs []int
	ownsDir bool
}

// FakeNodeName is the name of the kwok node in a full cluster.
const FakeNodeName = "kwok-node-0"

// StartCluster starts etcd and kube-apiserver (and, with opts.Full, the rest
// of a control plane plus kwok). Call Stop when done.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	r := newReaper()
	r.reap()
	// envtest logs through controller-runtime's logger, which otherwise
	// complains on stderr that nobody set it.
	ctrllog.SetLogger(logr.Discard())

	c := &Cluster{Dir: opts.LogDir, reaper: r}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "syncd-cluster-"); err != nil {
			return nil, fmt.Errorf("creating cluster dir: %w", err)
		}
		c.ownsDir = true
	}
	c.env = &envtest.Environment{
		BinaryAssetsDirectory:    binDir,
		ControlPlaneStartTimeout: 60 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	apiLog, err := os.Create(filepath.Join(c.Dir, "kube-apiserver.log"))
	if err != nil {
		return nil, fmt.Errorf("creating apiserver log: %w", err)
	}
	defer apiLog.Close()
	api := c.env.ControlPlane.GetAPIServer()
	api.Out, api.Err = apiLog, apiLog
	// Room for thousands of Services (envtest's default range has 254 IPs).
	api.Configure().Set("service-cluster-ip-range", "10.96.0.0/16")

	cfg, err := c.env.Start()
	if err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("starting etcd and kube-apiserver (log: %s): %w\n%s", apiLog.Name(), err, tailFile(apiLog.Name(), 20))
	}
	c.recordEnvtestProcesses()
	c.Config = cfg
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, c.env.KubeConfig, 0o600); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("writing kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("building scheme: %w", err)
	}
	if c.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("building client: %w", err)
	}
	if opts.Full {
		if err := c.startWorkloadComponents(ctx); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// recordEnvtestProcesses lets a later run reap etcd and kube-apiserver if this
// binary dies without calling Stop. envtest does not expose their pids, so
// they are found by the directories on their command lines; envtest starts
// each as a process group leader, so the pid is the group id.
func (c *Cluster) recordEnvtestProcesses() {
	var markers []string
	if api := c.env.ControlPlane.APIServer; api != nil && api.CertDir != "" {
		markers = append(markers, api.CertDir)
	}
	if etcd := c.env.ControlPlane.Etcd; etcd != nil && etcd.DataDir != "" {
		markers = append(markers, etcd.DataDir)
	}
	for _, m := range markers {
		for _, pid := range pidsWithArgument(m) {
			c.reaper.record(pid)
			c.envPIDs = append(c.envPIDs, pid)
		}
	}
}

// startWorkloadComponents starts kube-controller-manager, kube-scheduler and
// kwok and registers one fake node.
func (c *Cluster) startWorkloadComponents(ctx context.Context) error {
	certDir := c.env.ControlPlane.APIServer.CertDir
	components := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--service-account-private-key-file=" + filepath.Join(certDir, "sa-signer.key"),
			"--use-service-account-credentials=false",
			"--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle,-persistentvolume-binder,-attachdetach",
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--authentication-kubeconfig=" + c.Kubeconfig,
			"--authorization-kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=0",
		}},
		{"kwok", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--config=" + filepath.Join(filepath.Dir(mustBinary("kwok")), "kwok-stages.yaml"),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=10.0.0.1/24",
			"--node-ip=10.0.0.1",
			"--server-address=127.0.0.1:0",
		}},
	}
	for _, comp := range components {
		path, err := binary(comp.name)
		if err != nil {
			return err
		}
		p, err := StartProcess(comp.name, path, comp.args, filepath.Join(c.Dir, comp.name+".log"))
		if err != nil {
			return err
		}
		c.extra = append(c.extra, p)
	}
	return c.createFakeNode(ctx)
}

// mustBinary returns the expected path of a test binary even when absent, so
// error messages can name it.
func mustBinary(name string) string {
	p, err := binary(name)
	if err != nil {
		dir, _ := BinDir()
		return filepath.Join(dir, name)
	}
	return p
}

// createFakeNode registers the kwok node and waits until kwok reports it Ready.
func (c *Cluster) createFakeNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        FakeNodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": FakeNodeName, "kubernetes.io/os": "linux"},
		},
		Status: corev1.NodeStatus{
			Allocatable: fakeNodeCapacity(),
			Capacity:    fakeNodeCapacity(),
		},
	}
	if err := c.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("creating fake node: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.componentsAlive(); err != nil {
			return err
		}
		var n corev1.Node
		if err := c.Client.Get(ctx, client.ObjectKey{Name: FakeNodeName}, &n); err == nil && nodeReady(&n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("fake node %s did not become Ready within 60s (kwok log %s):\n%s", FakeNodeName, filepath.Join(c.Dir, "kwok.log"), tailFile(filepath.Join(c.Dir, "kwok.log"), 20))
}

// componentsAlive fails when one of the extra components has exited.
func (c *Cluster) componentsAlive() error {
	for _, p := range c.extra {
		if p.Exited() {
			return fmt.Errorf("%s exited early (log %s): %v\n%s", p.name, p.log, p.err, p.tail())
		}
	}
	return nil
}

func fakeNodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// AddUser provisions a user authenticated by a client certificate as name
// in groups, with no RBAC permissions of its own, and writes a kubeconfig for
// it in c.Dir, whose path it returns.
func (c *Cluster) AddUser(name string, groups ...string) (kubeconfigPath string, err error) {
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", name, err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("building kubeconfig of user %s: %w", name, err)
	}
	path := filepath.Join(c.Dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return "", fmt.Errorf("writing kubeconfig of user %s: %w", name, err)
	}
	return path, nil
}

// Stop stops every component and removes the cluster directory it created.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.extra) - 1; i >= 0; i-- {
		errs = append(errs, c.extra[i].Stop(10*time.Second))
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping etcd and kube-apiserver: %w", err))
		}
	}
	// envtest sends SIGKILL after its stop timeout without waiting, and stops
	// nothing more once one component fails to stop: make sure etcd and
	// kube-apiserver are gone before saying they are.
	if err := killGroups(c.envPIDs, 10*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("stopping etcd and kube-apiserver: %w", err))
	}
	for _, pid := range c.envPIDs {
		c.reaper.forget(pid)
	}
	if c.ownsDir {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	return errors.Join(errs...)
}

// RestartAPIServer kills kube-apiserver (SIGKILL, like a crash) and starts
// it again on the same port, with etcd and so every object kept, for tests of
// clients that must ride out an API server restart.
func (c *Cluster) RestartAPIServer(down time.Duration) error {
	api := c.env.ControlPlane.APIServer
	pids := pidsWithArgument(api.CertDir)
	if len(pids) == 0 {
		return errors.New("restarting kube-apiserver: process not found")
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pidsWithArgument(api.CertDir)) > 0 {
		if time.Now().After(deadline) {
			return errors.New("restarting kube-apiserver: it did not die")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(down)
	if err := api.Start(); err != nil {
		return fmt.Errorf("restarting kube-apiserver: %w", err)
	}
	c.recordEnvtestProcesses()
	return nil
}
