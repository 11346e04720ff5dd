package daemon

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/syncd-dev/syncd/internal/metrics"
	"github.com/syncd-dev/syncd/internal/testenv"
)

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return families
}

// value returns the value of the series of family with all the given labels.
func value(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f := families[family]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		match := true
		for k, v := range labels {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestDaemonMetricsReadyzAndWebhook(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-http"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := New(cl, dyn, cl.RESTMapper(), src, Config{Site: site, Namespace: "syncd-system", Interval: time.Hour,
		Log: hclog.New(&hclog.LoggerOptions{Output: testLog{t}})})
	srv := httptest.NewServer(d.Handler("s3cret"))
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before the first reconcile = %d, want 503", code)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	d.SetStandby(true)
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || !strings.HasPrefix(body, "standby") {
		t.Fatalf("/readyz on a standby replica = %d %q, want 200 standby", code, body)
	}
	d.SetStandby(false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 30*time.Second, "ready after the first reconcile", func() bool {
		code, body := get(t, srv.URL+"/readyz")
		return code == 200 && strings.Contains(body, "ok: revision rev0")
	})

	m := scrape(t, srv.URL)
	for _, want := range []struct {
		family string
		labels map[string]string
		min    float64
	}{
		{"syncd_reconcile_duration_seconds", map[string]string{"kind": "full", "result": "success", "site": site}, 1},
		{"syncd_objects_applied_total", map[string]string{"action": "created"}, 2},
		{"syncd_revision_info", map[string]string{"revision": "rev0"}, 1},
		{"syncd_git_fetch_duration_seconds", nil, 1},
		{"syncd_last_successful_reconcile_timestamp_seconds", nil, float64(time.Now().Add(-time.Minute).Unix())},
		{"syncd_products", map[string]string{"health": "HEALTHY"}, 1},
	} {
		if v, ok := value(m, want.family, want.labels); !ok || v < want.min {
			t.Errorf("%s%v = %v (present %v), want >= %v", want.family, want.labels, v, ok, want.min)
		}
	}
	// Without a publisher there is no report, and nothing to call stale.
	if _, ok := m["syncd_status_report_published_timestamp_seconds"]; ok {
		t.Error("syncd_status_report_published_timestamp_seconds served by a daemon that publishes no report")
	}

	// A new commit; the poll is an hour away, the webhook brings it now.
	if err := os.WriteFile(filepath.Join(src.dir, "products/web/releases/1.0.0/cm.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src.rev.Add(1)
	const payload = `{"ref":"refs/heads/main"}`
	fetches := func() float64 { v, _ := value(scrape(t, srv.URL), "syncd_git_fetch_duration_seconds", nil); return v }
	polled := fetches()
	for _, bad := range []string{"", "sha256=00", sign("wrong", payload), "sha1=" + sign("s3cret", payload)[7:]} {
		req, _ := http.NewRequest("POST", srv.URL+"/hooks/git", strings.NewReader(payload))
		req.Header.Set("X-Hub-Signature-256", bad)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("webhook with signature %q = %d, want 401", bad, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", srv.URL+"/hooks/git", strings.NewReader(payload))
	req.Header.Set("X-Hub-Signature-256", sign("s3cret", payload))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed webhook = %d, want 202", resp.StatusCode)
	}
	eventually(t, 10*time.Second, "webhook-triggered reconcile", func() bool { l, _ := level(t, cl, site); return l == "warn" })
	t.Logf("webhook -> applied in %s", time.Since(start))
	// The poll is an hour away: the signed webhook caused the one poll
	// since, the refused ones none.
	if n := fetches(); n != polled+1 {
		t.Errorf("%v polls since the webhooks, want 1 (the signed one's)", n-polled)
	}
}

func TestLeaderElectionOnlyOneReplicaReconciles(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-leader"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	type replica struct {
		m      *metrics.Metrics
		cancel context.CancelFunc
		done   chan error
	}
	start := func(id string) *replica {
		r := &replica{m: metrics.New(site), done: make(chan error, 1)}
		d := New(cl, dyn, cl.RESTMapper(), src, Config{Site: site, Namespace: "syncd-system", Interval: 200 * time.Millisecond, Metrics: r.m,
			Log: hclog.New(&hclog.LoggerOptions{Name: id, Output: testLog{t}})})
		var ctx context.Context
		ctx, r.cancel = context.WithCancel(context.Background())
		go func() {
			r.done <- RunAsLeader(ctx, cs, LeaderConfig{Namespace: "syncd-system", Name: "syncd-" + site, Identity: id,
				LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}, hclog.NewNullLogger(), d.Run)
		}()
		return r
	}
	reconciles := func(r *replica) float64 {
		srv := httptest.NewServer(r.m.Handler())
		defer srv.Close()
		v, _ := value(scrape(t, srv.URL), "syncd_git_fetch_duration_seconds", nil)
		return v
	}
	a, b := start("replica-a"), start("replica-b")
	eventually(t, 30*time.Second, "a leader reconciles", func() bool { _, ok := level(t, cl, site); return ok })
	// The leader polls every 200ms: by its tenth poll a second active
	// replica would have polled too.
	eventually(t, 30*time.Second, "ten polls by the leader", func() bool { return max(reconciles(a), reconciles(b)) >= 10 })
	ra, rb := reconciles(a), reconciles(b)
	if (ra > 0) == (rb > 0) {
		t.Fatalf("polls: replica-a %v, replica-b %v; want exactly one replica active", ra, rb)
	}
	leader, standby := a, b
	if rb > 0 {
		leader, standby = b, a
	}
	// The leader stops (releasing the Lease): the standby takes over.
	leader.cancel()
	if err := <-leader.done; err != nil {
		t.Fatalf("leader stopped with %v", err)
	}
	eventually(t, 20*time.Second, "the standby takes over", func() bool { return reconciles(standby) > 0 })
	standby.cancel()
	<-standby.done
}
