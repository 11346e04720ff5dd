package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/tracing/tracingtest"
)

// lockedBuffer is a bytes.Buffer safe for the daemon's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// One reconcile is one trace, exported over OTLP/HTTP (configured by
// OTEL_EXPORTER_OTLP_ENDPOINT only), with a span per step; a webhook
// carrying a W3C traceparent continues the caller's trace; the reconcile's
// log lines carry its trace ID; a failing reconcile has error spans.
func TestReconcileTraceAndWebhookContinuesIt(t *testing.T) {
	recv := tracingtest.NewReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	tp, err := tracing.New(context.Background(), os.Getenv, "test")
	if err != nil || !tp.Config.Enabled {
		t.Fatalf("tracing.New = %+v, %v; want enabled by OTEL_EXPORTER_OTLP_ENDPOINT", tp, err)
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()

	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-trace"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	rel := filepath.Join(src.dir, "products/web/releases/1.0.0")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(rel, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gone.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-gone}\ndata: {a: b}\n")
	write("kustomization.yaml", "resources: [ns.yaml, cm.yaml, gone.yaml]\n")

	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	d := New(cl, dyn, cl.RESTMapper(), src, Config{Site: site, Namespace: "syncd-system", Interval: time.Hour, Tracer: tp,
		Log: hclog.New(&hclog.LoggerOptions{JSONFormat: true, Output: &logs})})
	srv := httptest.NewServer(d.Handler("s3cret"))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 60*time.Second, "first reconcile", func() bool { return d.state.Load() != nil })

	// reconcileSpan waits for the root span of the reconcile of revision.
	reconcileSpan := func(revision string) tracingtest.Span {
		t.Helper()
		var root tracingtest.Span
		eventually(t, 30*time.Second, "the reconcile span of "+revision+" exported", func() bool {
			if err := tp.ForceFlush(context.Background()); err != nil {
				t.Fatalf("flush: %v", err)
			}
			for _, s := range recv.Spans() {
				if s.Name == "reconcile" && s.Attributes["syncd.revision"] == revision {
					root = s
					return true
				}
			}
			return false
		})
		return root
	}
	first := reconcileSpan("rev0")
	if first.ParentID != "" || first.Service != "syncd" {
		t.Errorf("the first reconcile's span: parent %q, service %q; want a root span of service syncd", first.ParentID, first.Service)
	}

	// A new revision changes one object and drops another; a webhook with a
	// traceparent asks for it.
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: warn}\n")
	write("kustomization.yaml", "resources: [ns.yaml, cm.yaml]\n")
	src.rev.Add(1)
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	const payload = `{"ref":"refs/heads/main"}`
	req, _ := http.NewRequest("POST", srv.URL+"/hooks/git", strings.NewReader(payload))
	req.Header.Set("X-Hub-Signature-256", sign("s3cret", payload))
	req.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook = %d, want 202", resp.StatusCode)
	}
	root := reconcileSpan("rev1")
	if root.TraceID != callerTrace {
		t.Fatalf("the webhook-triggered reconcile is in trace %s, want the caller's %s", root.TraceID, callerTrace)
	}
	spans := recv.Trace(callerTrace)
	tree := tracingtest.Tree(spans)
	t.Logf("trace of the webhook-triggered reconcile:\n%s", tree)
	byID := map[string]tracingtest.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	// find returns the one span named name whose parent is parent.
	find := func(name string, parent tracingtest.Span, attrs map[string]string) tracingtest.Span {
		t.Helper()
		var found []tracingtest.Span
		for _, s := range spans {
			if s.Name == name && s.ParentID == parent.SpanID {
				found = append(found, s)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d spans %q under %q, want 1; trace:\n%s", len(found), name, parent.Name, tree)
		}
		for k, v := range attrs {
			if got := found[0].Attributes[k]; got != v {
				t.Errorf("span %s: %s = %q, want %q (attributes %v)", name, k, got, v, found[0].Attributes)
			}
		}
		if found[0].Error {
			t.Errorf("span %s has an error status: %s", name, found[0].StatusMessage)
		}
		return found[0]
	}
	webhook := byID[root.ParentID]
	if webhook.Name != "webhook" || webhook.ParentID != callerSpan {
		t.Fatalf("the reconcile's parent is %q (parent %q), want the webhook span, a child of the caller's span %s; trace:\n%s",
			webhook.Name, webhook.ParentID, callerSpan, tree)
	}
	ok := map[string]string{"syncd.result": tracing.Success}
	for k, v := range map[string]string{"syncd.site": site, "syncd.revision": "rev1", "syncd.result": tracing.Success} {
		if root.Attributes[k] != v {
			t.Errorf("reconcile span: %s = %q, want %q", k, root.Attributes[k], v)
		}
	}
	find("fetch", root, ok)
	plan := find("plan", root, ok)
	find("render", plan, map[string]string{"syncd.product": "web", "syncd.version": "1.0.0", "syncd.result": tracing.Success})
	find("verify", root, ok)
	stage := find("stage", root, map[string]string{"syncd.stage": "0", "syncd.result": tracing.Success})
	product := find("product", stage, map[string]string{"syncd.product": "web", "syncd.version": "1.0.0", "syncd.result": tracing.Success})
	find("diff", product, map[string]string{"syncd.product": "web", "syncd.unchanged": "false"})
	find("apply", product, map[string]string{"syncd.product": "web", "syncd.version": "1.0.0", "syncd.result": tracing.Success})
	find("prune", product, map[string]string{"syncd.product": "web", "syncd.pruned": "1"})
	find("health", root, ok)
	find("status.publish", root, ok)

	// The reconcile's log lines carry its trace ID.
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		if l["@message"] == "reconciled" && l["revision"] == "rev1" {
			found = true
			if l["trace_id"] != callerTrace {
				t.Errorf("log line %s: trace_id %v, want %s", line, l["trace_id"], callerTrace)
			}
		}
	}
	if !found {
		t.Errorf("no `reconciled` log line for rev1 in:\n%s", logs.String())
	}
	var gone corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-gone"}, &gone); !apierrors.IsNotFound(err) {
		t.Errorf("web-gone after the reconcile: %v, want pruned", err)
	}

	// A revision whose render fails: the spans on the way say so.
	write("kustomization.yaml", "resources: [ns.yaml, cm.yaml, missing.yaml]\n")
	src.rev.Add(1)
	d.Trigger()
	failed := reconcileSpan("rev2")
	if !failed.Error || failed.Attributes["syncd.result"] != tracing.Failure || failed.ParentID != "" {
		t.Errorf("the failed reconcile's span: error %v, result %q, parent %q; want an error root span", failed.Error, failed.Attributes["syncd.result"], failed.ParentID)
	}
	var renderFailed bool
	for _, s := range recv.Trace(failed.TraceID) {
		if s.Name == "render" && s.Error && strings.Contains(s.StatusMessage, "missing.yaml") {
			renderFailed = true
		}
	}
	if !renderFailed {
		t.Errorf("no failed render span naming missing.yaml in:\n%s", tracingtest.Tree(recv.Trace(failed.TraceID)))
	}
}

// An object put back because a watch fired (no full reconcile: the poll
// interval is an hour) is traced too: one root span "object.sync" per object
// synced, naming its kind, namespace and name, its product and what was done.
func TestWatchFiredSyncHasASpanPerObject(t *testing.T) {
	recv := tracingtest.NewReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	tp, err := tracing.New(context.Background(), os.Getenv, "test")
	if err != nil || !tp.Config.Enabled {
		t.Fatalf("tracing.New = %+v, %v; want enabled", tp, err)
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	const site = "dm-objspan"
	src := &dirSource{dir: t.TempDir()}
	writeFleet(t, src.dir, site, "git_wins")
	d, _ := runDaemonWith(t, c, cl, src, Config{Site: site, Interval: time.Hour, Tracer: tp})
	eventually(t, 60*time.Second, "first reconcile", func() bool { return d.state.Load() != nil })

	// objectSpans returns the object.sync spans exported so far.
	objectSpans := func() []tracingtest.Span {
		t.Helper()
		if err := tp.ForceFlush(context.Background()); err != nil {
			t.Fatalf("flush: %v", err)
		}
		var out []tracingtest.Span
		for _, s := range recv.Spans() {
			if s.Name == "object.sync" {
				out = append(out, s)
			}
		}
		return out
	}
	// waitSpan waits for an object.sync span of web-config whose action is
	// action, and returns it.
	waitSpan := func(action string) tracingtest.Span {
		t.Helper()
		var found tracingtest.Span
		eventually(t, 30*time.Second, "an object.sync span with action "+action, func() bool {
			for _, s := range objectSpans() {
				if s.Attributes["syncd.object.name"] == "web-config" && s.Attributes["syncd.action"] == action {
					found = s
					return true
				}
			}
			return false
		})
		return found
	}
	if n := len(objectSpans()); n != 0 {
		t.Fatalf("%d object.sync spans before any out-of-band change, want 0", n)
	}

	var cm corev1.ConfigMap
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: "web-config"}, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["level"] = "debug"
	if err := cl.Update(context.Background(), &cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	edited := waitSpan("configured")
	if err := cl.Delete(context.Background(), &cm); err != nil {
		t.Fatal(err)
	}
	deleted := waitSpan("created")

	var reconcileTraces []string
	for _, s := range recv.Spans() {
		if s.Name == "reconcile" {
			reconcileTraces = append(reconcileTraces, s.TraceID)
		}
	}
	if len(reconcileTraces) != 1 {
		t.Errorf("%d reconcile traces, want only the first: the watch must not run full reconciles", len(reconcileTraces))
	}
	want := map[string]string{
		"syncd.site": site, "syncd.revision": "rev0", "syncd.trigger": "watch", "syncd.product": "web",
		"syncd.object.group": "", "syncd.object.kind": "ConfigMap", "syncd.object.namespace": site, "syncd.object.name": "web-config",
		"syncd.result": tracing.Success,
	}
	for _, s := range []tracingtest.Span{edited, deleted} {
		for k, v := range want {
			if got, ok := s.Attributes[k]; !ok || got != v {
				t.Errorf("object.sync span (action %s): %s = %q, want %q (attributes %v)", s.Attributes["syncd.action"], k, got, v, s.Attributes)
			}
		}
		if s.ParentID != "" || s.Error || s.Service != "syncd" {
			t.Errorf("object.sync span: parent %q, error %v, service %q; want a root span of service syncd without error", s.ParentID, s.Error, s.Service)
		}
		for _, r := range reconcileTraces {
			if s.TraceID == r {
				t.Errorf("object.sync span in the trace of a full reconcile (%s), want a trace of its own", r)
			}
		}
	}
	if edited.TraceID == deleted.TraceID {
		t.Errorf("the edit and the delete were put back in one trace %s, want one trace each", edited.TraceID)
	}
}
