package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// fluxConfig says where `make bench-flux` put Flux's controllers and CRDs.
type fluxConfig struct {
	bin     string   // directory holding source-controller and kustomize-controller
	crdDirs []string // config/crd/bases of both modules, in the module cache
	pushes  int
	edits   int
}

var (
	gitRepoGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustGVR    = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// cell is one measured figure of the side-by-side table, or why there is none.
type cell struct {
	text string
	note string // non-empty: not measured, and why (a footnote)
}

func measured(format string, args ...any) cell { return cell{text: fmt.Sprintf(format, args...)} }
func notMeasured(why string) cell              { return cell{note: why} }

// column is one tool's figures, row by row.
type column map[string]cell

var fluxRows = []string{
	"first sync, 2,000 objects (wall / CPU)",
	"no-op reconcile (wall / API requests)",
	"one image bump (push -> applied)",
	"push -> applied p50 / p95 (1 s poll)",
	"live edit -> corrected p50 / p95",
	"RSS at 2,000 objects",
}

// benchFlux measures syncd, Flux (source-controller + kustomize-controller)
// and kubectl apply --server-side on the same 4n objects, each on a fresh
// test API server, with the Git repos on one sshd, and prints them side by side.
func benchFlux(ctx context.Context, syncd string, n int, fc fluxConfig) error {
	for _, b := range []string{"source-controller", "kustomize-controller"} {
		if _, err := os.Stat(filepath.Join(fc.bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run `make bench-flux`", b, fc.bin)
		}
	}
	srv, err := testenv.StartGitServer()
	if err != nil {
		return err
	}
	defer srv.Stop()
	work, err := os.MkdirTemp("", "syncd-bench-flux-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo := filepath.Join(work, "fleet")
	if err := generateFleet(repo, n); err != nil {
		return err
	}
	fmt.Printf("flux: %d objects (%d products x 4); syncd, Flux and kubectl each on a fresh API server; Git over one OpenSSH server\n", 4*n, n)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("  load average at start: %s", load)

	fmt.Println("  syncd ...")
	syncdCol, err := fluxSyncdColumn(ctx, syncd, srv, work, repo, n, fc)
	if err != nil {
		return fmt.Errorf("syncd: %w", err)
	}
	fmt.Println("  Flux ...")
	fluxCol, err := fluxColumn(ctx, syncd, srv, work, repo, n, fc)
	if err != nil {
		return fmt.Errorf("flux: %w", err)
	}
	fmt.Println("  kubectl ...")
	kubectlCol, err := fluxKubectlColumn(ctx, syncd, repo, n)
	if err != nil {
		return fmt.Errorf("kubectl: %w", err)
	}
	printSideBySide([]string{"syncd", "Flux", "kubectl"}, []column{syncdCol, fluxCol, kubectlCol})
	return nil
}

// printSideBySide prints the rows with one column per tool and the reasons
// for the figures that were not measured as numbered footnotes.
func printSideBySide(names []string, cols []column) {
	fmt.Println()
	w := newTable()
	fmt.Fprintf(w, "measure\t%s\t\n", strings.Join(names, "\t"))
	var notes []string
	for _, row := range fluxRows {
		cells := []string{row}
		for _, col := range cols {
			c, ok := col[row]
			switch {
			case !ok:
				cells = append(cells, "—")
			case c.note != "":
				notes = append(notes, c.note)
				cells = append(cells, fmt.Sprintf("n/m [%d]", len(notes)))
			default:
				cells = append(cells, c.text)
			}
		}
		fmt.Fprintf(w, "%s\t\n", strings.Join(cells, "\t"))
	}
	w.Flush()
	for i, n := range notes {
		fmt.Printf("  [%d] %s\n", i+1, n)
	}
}

// fluxSyncdColumn: syncd sync --once (first sync, no-op) on a fresh API
// server, then `syncd run` polling the fleet repo over SSH every second on the
// same server (image bump, pushes, edits, RSS).
func fluxSyncdColumn(ctx context.Context, syncd string, srv *testenv.GitServer, work, repo string, n int, fc fluxConfig) (column, error) {
	col := column{}
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	cacheDir, err := os.MkdirTemp("", "syncd-bench-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cacheDir)
	once := func(name string) (run, error) {
		return measure(name, exec.CommandContext(ctx, syncd, "sync", "--once", "--site", "bench", "--repo-dir", repo,
			"--kubeconfig", c.Kubeconfig, "--health-timeout", "0s", "--cache-dir", cacheDir))
	}
	first, err := once("first sync")
	if err != nil {
		return nil, err
	}
	col[fluxRows[0]] = measured("%s / %s", first.wall.Round(time.Millisecond), first.cpu.Round(time.Millisecond))
	var noop run
	reqs, err := countRequests(ctx, kube, func() error { noop, err = once("no-op"); return err })
	if err != nil {
		return nil, err
	}
	col[fluxRows[1]] = measured("%s / %s", noop.wall.Round(time.Millisecond), reqs)

	// The daemon, on the objects sync --once applied.
	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		return nil, err
	}
	git := gitIn(repo, srv)
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"add", "-A"}, {"commit", "--quiet", "-m", "fleet"}, {"push", "--quiet", srv.URL("fleet.git"), "main"}} {
		if err := git(args...); err != nil {
			return nil, err
		}
	}
	listen := freeListen()
	logPath := filepath.Join(work, "syncd-run.log")
	p, err := testenv.StartProcess("syncd run", syncd, []string{"run", "--site", "bench", "--repo", srv.URL("fleet.git"),
		"--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts, "--kubeconfig", c.Kubeconfig,
		"--cache-dir", filepath.Join(work, "syncd-cache"), "--listen", listen, "--interval", "1s", "--health-timeout", "0s"}, logPath)
	if err != nil {
		return nil, err
	}
	defer p.Stop(10 * time.Second)
	if err := waitReady(listen, 3*time.Minute); err != nil {
		return nil, fmt.Errorf("syncd run: %w (log %s)", err, logPath)
	}
	push := func(msg string) error {
		if err := git("add", "-A"); err != nil {
			return err
		}
		if err := git("commit", "--quiet", "-m", msg); err != nil {
			return err
		}
		return git("push", "--quiet", srv.URL("fleet.git"), "main")
	}
	bump, err := imageBumpLatency(ctx, kube, func() error {
		if err := bumpProduct(repo, 0); err != nil {
			return err
		}
		return push("bump p0000 to 1.0.1")
	})
	if err != nil {
		return nil, fmt.Errorf("image bump: %w (log %s)", err, logPath)
	}
	col[fluxRows[2]] = measured("%s", bump.Round(time.Millisecond))
	lat, err := pushLatencies(ctx, kube, repo, n, fc.pushes, "syncd", func(i int, value string) error { return push("push " + value) })
	if err != nil {
		return nil, fmt.Errorf("%w (log %s)", err, logPath)
	}
	col[fluxRows[3]] = percentiles(lat)
	edits, err := editLatencies(ctx, kube, n, fc.edits, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w (log %s)", err, logPath)
	}
	col[fluxRows[4]] = percentiles(edits)
	_, rss := procCPU(p.Pid())
	col[fluxRows[5]] = measured("%d MiB", rss/1024)
	if err := unbumpProduct(repo, 0); err != nil {
		return nil, err
	}
	return col, nil
}

// fluxColumn runs source-controller and kustomize-controller against a fresh
// API server, with a GitRepository (1 s interval) over the same sshd and a
// Kustomization of the objects syncd renders for the site.
func fluxColumn(ctx context.Context, syncd string, srv *testenv.GitServer, work, repo string, n int, fc fluxConfig) (column, error) {
	col := column{}
	// The Flux repo: what `syncd render` makes of the site, in one directory.
	fluxRepo := filepath.Join(work, "flux")
	deploy := filepath.Join(fluxRepo, "deploy")
	if err := os.MkdirAll(deploy, 0o755); err != nil {
		return nil, err
	}
	render := func() error { return renderTo(ctx, syncd, repo, filepath.Join(deploy, "objects.yaml")) }
	if err := render(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(deploy, "kustomization.yaml"), []byte("resources: [objects.yaml]\n"), 0o644); err != nil {
		return nil, err
	}
	if _, err := srv.CreateRepo("flux.git", "main"); err != nil {
		return nil, err
	}
	git := gitIn(fluxRepo, srv)
	push := func(msg string) error {
		for _, args := range [][]string{{"add", "-A"}, {"commit", "--quiet", "-m", msg}, {"push", "--quiet", srv.URL("flux.git"), "main"}} {
			if err := git(args...); err != nil {
				return err
			}
		}
		return nil
	}
	if err := git("init", "--quiet", "--initial-branch=main"); err != nil {
		return nil, err
	}
	if err := push("objects"); err != nil {
		return nil, err
	}

	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	if err := installFluxCRDs(ctx, c.Kubeconfig, fc.crdDirs); err != nil {
		return nil, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	identity, err := os.ReadFile(srv.DeployKey.PrivatePath)
	if err != nil {
		return nil, err
	}
	knownHosts, err := os.ReadFile(srv.KnownHosts)
	if err != nil {
		return nil, err
	}
	if _, err := kube.CoreV1().Secrets("flux-system").Create(ctx, sshSecret("fleet-ssh", identity, knownHosts), metav1.CreateOptions{}); err != nil {
		return nil, err
	}

	// The controllers, as processes, on loopback only.
	storage := filepath.Join(work, "flux-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	artifacts := freeListen()
	sc, err := testenv.StartProcess("source-controller", filepath.Join(fc.bin, "source-controller"), []string{
		"--storage-path", storage, "--storage-addr", artifacts, "--storage-adv-addr", artifacts,
		"--metrics-addr", freeListen(), "--health-addr", freeListen(), "--enable-leader-election=false", "--log-level", "info",
	}, filepath.Join(work, "source-controller.log"), "KUBECONFIG="+c.Kubeconfig, "RUNTIME_NAMESPACE=flux-system")
	if err != nil {
		return nil, err
	}
	defer sc.Stop(10 * time.Second)
	kc, err := testenv.StartProcess("kustomize-controller", filepath.Join(fc.bin, "kustomize-controller"), []string{
		"--metrics-addr", freeListen(), "--health-addr", freeListen(), "--enable-leader-election=false", "--log-level", "info",
	}, filepath.Join(work, "kustomize-controller.log"), "KUBECONFIG="+c.Kubeconfig, "RUNTIME_NAMESPACE=flux-system")
	if err != nil {
		return nil, err
	}
	defer kc.Stop(10 * time.Second)
	logs := fmt.Sprintf("(logs %s/{source,kustomize}-controller.log)", work)

	gr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "fleet", "namespace": "flux-system"},
		"spec": map[string]any{"interval": "1s", "url": srv.URL("flux.git"), "ref": map[string]any{"branch": "main"},
			"secretRef": map[string]any{"name": "fleet-ssh"}, "timeout": "60s"},
	}}
	if _, err := dyn.Resource(gitRepoGVR).Namespace("flux-system").Create(ctx, gr, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	revision, err := waitFluxReady(ctx, dyn, gitRepoGVR, "", 5*time.Minute, func(u *unstructured.Unstructured) string {
		rev, _, _ := unstructured.NestedString(u.Object, "status", "artifact", "revision")
		return rev
	})
	if err != nil {
		return nil, fmt.Errorf("GitRepository: %w %s", err, logs)
	}

	// First sync: from the Kustomization's creation to Ready at the revision.
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "fleet", "namespace": "flux-system"},
		"spec": map[string]any{"interval": "1h", "path": "./deploy", "prune": true, "timeout": "10m",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "fleet"}},
	}}
	cpu0 := fluxCPU(sc, kc)
	start := time.Now()
	if _, err := dyn.Resource(kustGVR).Namespace("flux-system").Create(ctx, ks, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	applied := func(u *unstructured.Unstructured) string {
		rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
		return rev
	}
	if _, err := waitFluxReady(ctx, dyn, kustGVR, revision, 10*time.Minute, applied); err != nil {
		return nil, fmt.Errorf("first sync: %w %s", err, logs)
	}
	wall := time.Since(start)
	col[fluxRows[0]] = measured("%s / %s", wall.Round(time.Millisecond), (fluxCPU(sc, kc) - cpu0).Round(time.Millisecond))

	// No-op: a reconcile asked for with the requestedAt annotation, until
	// the Kustomization says it handled it.
	var noop time.Duration
	reqs, err := countRequests(ctx, kube, func() error {
		token := strconv.FormatInt(time.Now().UnixNano(), 10)
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, token)
		start := time.Now()
		if _, err := dyn.Resource(kustGVR).Namespace("flux-system").Patch(ctx, "fleet", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
		_, err := waitFluxReady(ctx, dyn, kustGVR, token, 5*time.Minute, func(u *unstructured.Unstructured) string {
			got, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
			return got
		})
		noop = time.Since(start)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("no-op: %w %s", err, logs)
	}
	col[fluxRows[1]] = measured("%s / %s", noop.Round(time.Millisecond), reqs)

	bump, err := imageBumpLatency(ctx, kube, func() error {
		if err := bumpProduct(repo, 0); err != nil {
			return err
		}
		if err := render(); err != nil {
			return err
		}
		return push("bump p0000 to 1.0.1")
	})
	if err != nil {
		return nil, fmt.Errorf("image bump: %w %s", err, logs)
	}
	col[fluxRows[2]] = measured("%s", bump.Round(time.Millisecond))
	if err := unbumpProduct(repo, 0); err != nil {
		return nil, err
	}
	lat, err := pushLatencies(ctx, kube, repo, n, fc.pushes, "flux", func(i int, value string) error {
		if err := render(); err != nil {
			return err
		}
		return push("push " + value)
	})
	if err != nil {
		return nil, fmt.Errorf("%w %s", err, logs)
	}
	col[fluxRows[3]] = percentiles(lat)
	_, rssS := procCPU(sc.Pid())
	_, rssK := procCPU(kc.Pid())
	col[fluxRows[5]] = measured("%d MiB", (rssS+rssK)/1024)

	// Flux corrects drift when the Kustomization next reconciles: at a 1 s
	// interval, the most it can be asked for.
	if _, err := dyn.Resource(kustGVR).Namespace("flux-system").Patch(ctx, "fleet", types.MergePatchType, []byte(`{"spec":{"interval":"1s"}}`), metav1.PatchOptions{}); err != nil {
		return nil, err
	}
	edits, err := editLatencies(ctx, kube, n, fc.edits, 3*time.Minute)
	if err != nil {
		col[fluxRows[4]] = notMeasured(fmt.Sprintf("Flux, Kustomization interval 1s: %v", err))
	} else {
		c := percentiles(edits)
		c.text += " (interval 1s)"
		col[fluxRows[4]] = c
	}
	return col, nil
}

// fluxKubectlColumn: kubectl apply --server-side of the rendered YAML on a
// fresh API server (first apply, no-op re-apply, the bumped YAML).
func fluxKubectlColumn(ctx context.Context, syncd, repo string, n int) (column, error) {
	runs, err := kubectlSteps(ctx, syncd, repo, n)
	if err != nil {
		return nil, err
	}
	if err := unbumpProduct(repo, 0); err != nil {
		return nil, err
	}
	return column{
		fluxRows[0]: measured("%s / %s", runs[0].wall.Round(time.Millisecond), runs[0].cpu.Round(time.Millisecond)),
		fluxRows[1]: measured("%s / —", runs[1].wall.Round(time.Millisecond)),
		fluxRows[2]: measured("%s (apply only)", runs[2].wall.Round(time.Millisecond)),
		fluxRows[5]: measured("%d MiB (peak, first apply)", runs[0].maxRSS/1024),
	}, nil
}

// gitIn runs git in dir, over SSH to srv with the deploy key.
func gitIn(dir string, srv *testenv.GitServer) func(args ...string) error {
	env := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	return func(args ...string) error {
		_, err := testenv.RunGit(dir, env, args...)
		return err
	}
}

// installFluxCRDs applies the CRDs of the Flux modules and waits until the
// API server serves them.
func installFluxCRDs(ctx context.Context, kubeconfig string, dirs []string) error {
	kubectl, err := testBinary("kubectl")
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no Flux CRD directories given (-flux-crds)")
	}
	for _, d := range dirs {
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", d).CombinedOutput()
		if err != nil {
			return fmt.Errorf("installing the CRDs of %s: %w: %s", d, err, out)
		}
	}
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "wait", "--for", "condition=Established", "--timeout", "60s", "crd", "--all").CombinedOutput()
	if err != nil {
		return fmt.Errorf("waiting for the Flux CRDs: %w: %s", err, out)
	}
	return nil
}

// waitFluxReady polls the Flux object fleet in flux-system until its Ready
// condition is True and field(obj) equals want (any non-empty value when want
// is empty), and returns that value.
func waitFluxReady(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, want string, limit time.Duration, field func(*unstructured.Unstructured) string) (string, error) {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		u, err := dyn.Resource(gvr).Namespace("flux-system").Get(ctx, "fleet", metav1.GetOptions{})
		if err == nil {
			got := field(u)
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Ready" {
					last = fmt.Sprintf("Ready=%v %v: %v", m["status"], m["reason"], m["message"])
					if m["status"] == "True" && got != "" && (want == "" || got == want) {
						return got, nil
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("%s fleet not ready within %s (last: %s)", gvr.Resource, limit, last)
}

// fluxCPU is the CPU time both controllers used so far.
func fluxCPU(ps ...*testenv.Process) time.Duration {
	var sum time.Duration
	for _, p := range ps {
		cpu, _ := procCPU(p.Pid())
		sum += cpu
	}
	return sum
}

// countRequests runs f and returns how many requests the API server counted
// in apiserver_request_total meanwhile, less its background rate measured
// over as long just before (its own loopback clients, the scrapes, other
// controllers at rest).
func countRequests(ctx context.Context, kube kubernetes.Interface, f func() error) (string, error) {
	r0, err := apiRequests(ctx, kube)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := f(); err != nil {
		return "", err
	}
	took := time.Since(start)
	r1, err := apiRequests(ctx, kube)
	if err != nil {
		return "", err
	}
	time.Sleep(took)
	r2, err := apiRequests(ctx, kube)
	if err != nil {
		return "", err
	}
	during, background := r1-r0, r2-r1
	return fmt.Sprintf("%.0f req (%.0f background)", during-background, background), nil
}

// apiRequests sums apiserver_request_total from the API server's /metrics.
func apiRequests(ctx context.Context, kube kubernetes.Interface) (float64, error) {
	raw, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	var sum float64
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, nil
}

// imageBumpLatency runs push and returns the time from its end until the
// Deployment p0000 runs image 1.0.1.
func imageBumpLatency(ctx context.Context, kube kubernetes.Interface, push func() error) (time.Duration, error) {
	if err := push(); err != nil {
		return 0, err
	}
	start := time.Now()
	want := "registry.example.com/acme/" + productName(0) + ":1.0.1"
	deadline := start.Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		d, err := kube.AppsV1().Deployments("bench").Get(ctx, productName(0), metav1.GetOptions{})
		if err == nil && deploymentImage(d) == want {
			return time.Since(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("image %s not applied within 5m", want)
}

func deploymentImage(d *appsv1.Deployment) string {
	if len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// pushLatencies changes one ConfigMap per push in the fleet repo, lets push
// publish it, and times push's end -> the value in the cluster.
func pushLatencies(ctx context.Context, kube kubernetes.Interface, repo string, n, pushes int, tag string, push func(i int, value string) error) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < pushes; i++ {
		p := productName((i + 1) % n)
		value := fmt.Sprintf("%s-%d", tag, i)
		file := filepath.Join(repo, "products", p, "releases", "1.0.0", "objects.yaml")
		data := strings.Replace(release(p, "1.0.0")["objects.yaml"], "LOG_LEVEL: info", "LOG_LEVEL: info, PUSH: \""+value+"\"", 1)
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			return nil, err
		}
		w, err := watchConfigMap(ctx, kube, p+"-config")
		if err != nil {
			return nil, err
		}
		if err := push(i, value); err != nil {
			w.Stop()
			return nil, err
		}
		start := time.Now()
		err = waitValue(w, value, 3*time.Minute)
		w.Stop()
		if err != nil {
			return nil, fmt.Errorf("push %d: %w", i, err)
		}
		lat = append(lat, time.Since(start))
	}
	return lat, nil
}

// editLatencies makes edits out-of-band edits of ConfigMaps and times each
// until it is undone.
func editLatencies(ctx context.Context, kube kubernetes.Interface, n, edits int, limit time.Duration) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < edits; i++ {
		d, err := editAndWaitWithin(ctx, kube, productName((i+n/2)%n)+"-config", limit)
		if err != nil {
			return nil, err
		}
		lat = append(lat, d)
	}
	return lat, nil
}

// percentiles is "p50 / p95" of lat.
func percentiles(lat []time.Duration) cell {
	if len(lat) == 0 {
		return notMeasured("no samples")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return measured("%s / %s (n=%d)", lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), len(lat))
}

// sshSecret is a Secret in the format Flux's GitRepository reads for SSH:
// the private key as identity, the server's host key as known_hosts.
func sshSecret(name string, identity, knownHosts []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "flux-system"},
		Data:       map[string][]byte{"identity": identity, "known_hosts": knownHosts},
	}
}
