package main

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/daemon"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// benchConflicts runs the daemon on a generated site of n products and
// measures how long an out-of-band edit takes to be undone under git_wins,
// and how many API requests the daemon makes in an idle period.
func benchConflicts(ctx context.Context, n, edits int, idle time.Duration) error {
	dir, err := os.MkdirTemp("", "syncd-bench-conflicts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := generateFleet(dir, n); err != nil {
		return err
	}
	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return err
	}
	defer c.Stop()

	var requests atomic.Int64
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(r)
		})
	}
	cl, err := client.New(cfg, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		return err
	}
	_ = cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "syncd-system"}})
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The daemon's spans, for the share of each correction its
	// single-object sync (span object.sync) takes.
	spans := tracetest.NewSpanRecorder()
	cfg0 := daemon.Config{Site: "bench", Namespace: "syncd-system", Interval: time.Hour, Resync: time.Hour,
		Tracer: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))}
	_, stopDaemon := startBenchDaemon(ctx, cl, dyn, dir, cfg0)
	defer func() { stopDaemon() }()

	kube, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, kube, productName(n-1)+"-config", "info", 2*time.Minute); err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	time.Sleep(2 * time.Second) // let the watches settle

	before := requests.Load()
	time.Sleep(idle)
	idleRequests := requests.Load() - before

	var lat []time.Duration
	for i := 0; i < edits; i++ {
		name := productName(i%n) + "-config"
		d, err := editAndWait(ctx, kube, name)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("\nconflicts: daemon on %d objects, git_wins, %d out-of-band edits (kubectl-edit style Update of a ConfigMap)\n", 4*n, edits)
	fmt.Printf("  edit -> corrected (detected, dry-run, forced apply): median %s, p95 %s, max %s\n",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	var syncs []time.Duration
	for _, sp := range spans.Ended() {
		if sp.Name() == "object.sync" {
			syncs = append(syncs, sp.EndTime().Sub(sp.StartTime()))
		}
	}
	if len(syncs) > 0 {
		sort.Slice(syncs, func(i, j int) bool { return syncs[i] < syncs[j] })
		fmt.Printf("  of which the daemon's single-object sync (GET, conflicts, dry-run, apply; span object.sync, %d): median %s, p95 %s\n",
			len(syncs), syncs[len(syncs)/2].Round(time.Millisecond), syncs[len(syncs)*95/100].Round(time.Millisecond))
	}
	fmt.Printf("  API requests by the daemon while idle: %d in %s (%.1f per minute; watches, no polling)\n",
		idleRequests, idle, float64(idleRequests)/idle.Minutes())

	// The same edits while a full reconcile waits for health: a new daemon
	// whose first reconcile waits up to an hour for Deployments that never
	// become ready (this cluster runs no controllers).
	stopDaemon()
	slowCfg := cfg0
	slowCfg.HealthTimeout = time.Hour
	d, stopSlow := startBenchDaemon(ctx, cl, dyn, dir, slowCfg)
	stopDaemon = stopSlow
	// The first correction also waits for the reconcile's apply phase and
	// the watches: not timed.
	for try := 1; ; try++ {
		_, err := editAndWait(ctx, kube, productName(0)+"-config")
		if err == nil {
			break
		}
		if try == 10 {
			return fmt.Errorf("during the health wait: %w", err)
		}
	}
	lat = lat[:0]
	for i := 0; i < edits; i++ {
		took, err := editAndWait(ctx, kube, productName(i%n)+"-config")
		if err != nil {
			return fmt.Errorf("during the health wait: %w", err)
		}
		lat = append(lat, took)
	}
	rec := httptest.NewRecorder()
	d.Handler("").ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		return fmt.Errorf("the health wait ended during the measure (/readyz %d): the figures would not be during it", rec.Code)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("  edit -> corrected during a long health wait (Deployments never ready, health timeout 1h): median %s, p95 %s, max %s\n",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*95/100].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return nil
}

// startBenchDaemon runs a daemon on dir until the returned stop is called.
func startBenchDaemon(ctx context.Context, cl client.Client, dyn dynamic.Interface, dir string, cfg daemon.Config) (*daemon.Daemon, func()) {
	d := daemon.New(cl, dyn, cl.RESTMapper(), dirSource(dir), cfg)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	var once sync.Once
	return d, func() { once.Do(func() { stop(); <-done }) }
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// dirSource serves a directory as an unchanging fleet repo.
type dirSource string

// Fetch implements daemon.Source.
func (s dirSource) Fetch(context.Context) (string, bool, error) { return "bench", false, nil }

// Open implements daemon.Source.
func (s dirSource) Open(context.Context, string) (fs.FS, error) { return os.DirFS(string(s)), nil }

// editAndWait edits a ConfigMap as another manager and returns how long it
// took until the watch shows Git's value again.
func editAndWait(ctx context.Context, kube kubernetes.Interface, name string) (time.Duration, error) {
	return editAndWaitWithin(ctx, kube, name, 30*time.Second)
}

// editAndWaitWithin is editAndWait waiting up to limit.
func editAndWaitWithin(ctx context.Context, kube kubernetes.Interface, name string, limit time.Duration) (time.Duration, error) {
	cms := kube.CoreV1().ConfigMaps("bench")
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: cm.ResourceVersion})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	cm.Data["LOG_LEVEL"] = "debug"
	start := time.Now()
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		return 0, err
	}
	timeout := time.After(limit)
	for {
		select {
		case ev := <-w.ResultChan():
			if got, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Modified && got.Data["LOG_LEVEL"] == "info" {
				return time.Since(start), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("edit of %s not corrected within %s", name, limit)
		}
	}
}

// waitFor polls until ConfigMap name in namespace bench has LOG_LEVEL value.
func waitFor(ctx context.Context, kube kubernetes.Interface, name, value string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		cm, err := kube.CoreV1().ConfigMaps("bench").Get(ctx, name, metav1.GetOptions{})
		if err == nil && cm.Data["LOG_LEVEL"] == value {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("ConfigMap %s did not reach LOG_LEVEL=%s within %s", name, value, limit)
}
