package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/fleetstatus"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// hostile is a name as Git may carry it: markup, quotes and a script.
const hostile = `<script>alert("x")</script>&'"`

// sampleInputs: eu-1 healthy web and ERROR db, held at its verified
// revision; us-1 an hour old (stale) and unsigned; broken unreadable.
func sampleInputs() *fleetstatus.Inputs {
	score := 80
	return &fleetstatus.Inputs{
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Reports: map[string]*status.Report{
			"eu-1": {Site: "eu-1", Revision: "fedcba9876543210fedcba9876543210fedcba98", RefreshedAt: t0.Add(-2 * time.Minute),
				Commits:    &status.Commits{Verified: "aaaa", Head: "bbbb", Refused: "not signed by an allowed signer"},
				Compliance: &status.Compliance{Score: &score, Applicable: 5, Met: 4},
				Products: []status.ReportProduct{
					{Name: "web", Version: "1.2.0", Health: health.Healthy},
					{Name: "db", Version: "14.2", Health: health.Error, Drift: 1, Conflicts: 2, Note: "2.0.0 held back: waiting for maintenance window"},
				}},
			"us-1": {Site: "us-1", Revision: "abc", RefreshedAt: t0.Add(-time.Hour), Products: []status.ReportProduct{
				{Name: "web", Version: "1.1.0", Health: health.Healthy},
			}},
		},
		Unreadable: map[string]error{"broken": errors.New("status.yaml: unknown format version 9")},
		Unsigned:   map[string]bool{"us-1": true},
		Channels:   map[string]map[string]string{"web": {"dev": "1.2.0", "prod": "1.1.0"}, "api": {"dev": "0.1.0"}},
		Order:      []string{"dev", "prod"},
	}
}

// fixed is a Source of one snapshot.
type fixed Snapshot

func (f fixed) Snapshot() Snapshot { return Snapshot(f) }

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func now() time.Time { return t0 }

func TestPages(t *testing.T) {
	good := fixed{Inputs: sampleInputs(), AsOf: t0.Add(-30 * time.Second)}
	failing := fixed{Inputs: sampleInputs(), AsOf: t0.Add(-10 * time.Minute), FailedAt: t0.Add(-5 * time.Second), Err: errors.New("dial tcp 10.0.0.1:22: connection refused")}
	empty := fixed{}
	emptyFailed := fixed{FailedAt: t0, Err: errors.New("host key mismatch")}
	for _, tc := range []struct {
		name, path string
		src        fixed
		code       int
		want       []string
		not        []string
	}{
		{name: "grid", path: "/", src: good, code: 200, want: []string{
			`Data as of 2026-03-01T11:59:30Z (30s ago), fleet repo at 0123456789ab`,
			`<tr data-site="eu-1">`, `href="./sites/eu-1"`, `href="./products/web"`, `dev=1.2.0 prod=1.1.0`,
			`<span class="health error">ERROR</span>`, `<span class="health healthy">HEALTHY</span>`,
			`at fedcba987654, report 2m old, compliance 80%`, `head held back`,
			`drift 1`, `conflicts 2`, `2.0.0 held back: waiting for maintenance window`,
			`<span class="mark stale">stale</span>`, `>unsigned</span>`, `report 1h00m old`,
			`<span class="mark unreadable">unreadable</span>`, `report not read: status.yaml: unknown format version 9`,
			`3 products, 3 sites: 1 healthy, 0 progressing, 1 error, 1 unknown; 1 stale; 1 unsigned; 1 unreadable; 1 holding their head back.`,
			`<meta http-equiv="refresh" content="30">`,
		}, not: []string{"last fetch failed"}},
		{name: "last good snapshot while Git fails", path: "/", src: failing, code: 200, want: []string{
			`Data as of 2026-03-01T11:50:00Z (10m ago), fleet repo at 0123456789ab; last fetch failed at 2026-03-01T11:59:55Z: dial tcp 10.0.0.1:22: connection refused`,
			`<span class="health error">ERROR</span>`,
		}},
		{name: "no data yet", path: "/", src: empty, code: 503, want: []string{"No data yet: the first fetch is under way"}, not: []string{`id="grid"`}},
		{name: "first fetch failed", path: "/", src: emptyFailed, code: 503, want: []string{"No data yet: last fetch failed at 2026-03-01T12:00:00Z: host key mismatch"}},
		{name: "site", path: "/sites/eu-1", src: good, code: 200, want: []string{
			`<h1><a href="../">syncd fleet</a> · Site eu-1</h1>`, `<tr data-product="db">`, `href="../products/db"`,
			`Commit verification: head bbbb not applied: not signed by an allowed signer; staying at the last verified revision aaaa`,
		}},
		{name: "unreadable site", path: "/sites/broken", src: good, code: 200, want: []string{`unreadable`, `unknown format version 9`}, not: []string{`id="products"`}},
		{name: "product", path: "/products/web", src: good, code: 200, want: []string{
			`Channels: dev=1.2.0 prod=1.1.0`, `<tr data-site="eu-1">`, `<tr data-site="us-1">`, `href="../sites/us-1"`,
		}, not: []string{`data-site="broken"`}},
		{name: "product only in channels", path: "/products/api", src: good, code: 200, want: []string{"No site reports this product."}},
		{name: "unknown site", path: "/sites/nope", src: good, code: 404, want: []string{"No site nope in the fleet"}},
		{name: "unknown product", path: "/products/nope", src: good, code: 404, want: []string{"No product nope in the fleet"}},
		{name: "unknown page", path: "/nope", src: good, code: 404},
		{name: "healthz", path: "/healthz", src: failing, code: 200, want: []string{
			"ok: data as of 2026-03-01T11:50:00Z (fleet repo at 0123456789ab), last fetch failed at 2026-03-01T11:59:55Z: dial tcp 10.0.0.1:22: connection refused"}},
		{name: "healthz without data", path: "/healthz", src: empty, code: 200, want: []string{"ok: no data yet"}},
		{name: "readyz", path: "/readyz", src: good, code: 200, want: []string{"ready: data as of"}},
		{name: "readyz without data", path: "/readyz", src: emptyFailed, code: 503, want: []string{"no data yet: the fetch at 2026-03-01T12:00:00Z failed: host key mismatch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler(tc.src, Options{Refresh: 30 * time.Second}, now)
			res, body := get(t, h, http.MethodGet, tc.path)
			if res.StatusCode != tc.code {
				t.Errorf("GET %s: %d, want %d\n%s", tc.path, res.StatusCode, tc.code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s lacks %q:\n%s", tc.path, w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("GET %s has %q:\n%s", tc.path, n, body)
				}
			}
		})
	}
}

// TestReadOnly: only GET (and HEAD) are served.
func TestReadOnly(t *testing.T) {
	h := Handler(fixed{Inputs: sampleInputs(), AsOf: t0}, Options{Refresh: time.Minute}, now)
	for _, path := range []string{"/", "/api/fleet", "/sites/eu-1", "/products/web", "/healthz"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if res, _ := get(t, h, method, path); res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", method, path, res.StatusCode)
			}
		}
		if res, _ := get(t, h, http.MethodHead, path); res.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: %d, want 200", path, res.StatusCode)
		}
	}
	res, _ := get(t, h, http.MethodGet, "/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// TestAPIFleetIsFleetStatusJSON: /api/fleet is the view `fleet status -o
// json` prints, at the time of the request.
func TestAPIFleetIsFleetStatusJSON(t *testing.T) {
	in := sampleInputs()
	snap := fixed{Inputs: in, AsOf: t0.Add(-time.Minute), FailedAt: t0, Err: errors.New("unreachable")}
	res, body := get(t, Handler(snap, Options{Refresh: time.Minute}, now), http.MethodGet, "/api/fleet")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/fleet: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	want, err := json.MarshalIndent(in.View(t0), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want)+"\n" {
		t.Errorf("GET /api/fleet:\n%s\nwant:\n%s", body, want)
	}
	for hdr, want := range map[string]string{
		"X-Syncd-Data-As-Of": "2026-03-01T11:59:00Z", "X-Syncd-Revision": in.Revision, "X-Syncd-Last-Fetch-Failed": "2026-03-01T12:00:00Z",
	} {
		if got := res.Header.Get(hdr); got != want {
			t.Errorf("%s: %q, want %q", hdr, got, want)
		}
	}
	res, body = get(t, Handler(fixed{}, Options{}, now), http.MethodGet, "/api/fleet")
	var e struct{ Error string }
	if res.StatusCode != 503 || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "no data yet") {
		t.Errorf("GET /api/fleet before the first read: %d %s", res.StatusCode, body)
	}
}

// TestHostileNamesEscaped: site, product, version, note and error texts come
// from Git and are shown as text, never markup; links to them are escaped.
func TestHostileNamesEscaped(t *testing.T) {
	in := &fleetstatus.Inputs{
		Revision: "abc",
		Reports: map[string]*status.Report{hostile: {Site: hostile, RefreshedAt: t0, Products: []status.ReportProduct{
			{Name: hostile, Version: hostile, Health: health.State(hostile), Note: hostile},
		}}},
		Unreadable: map[string]error{"x" + hostile: errors.New(hostile)},
		Channels:   map[string]map[string]string{hostile: {hostile: hostile}},
		Order:      []string{hostile},
	}
	h := Handler(fixed{Inputs: in, AsOf: t0, FailedAt: t0, Err: errors.New(hostile)}, Options{Refresh: time.Minute}, now)
	for _, path := range []string{"/", "/sites/" + url.PathEscape(hostile), "/products/" + url.PathEscape(hostile), "/sites/" + url.PathEscape("x"+hostile)} {
		res, body := get(t, h, http.MethodGet, path)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, `alert("x")`) {
			t.Errorf("GET %s carries the name unescaped:\n%s", path, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;&#34;") {
			t.Errorf("GET %s does not show the name as text:\n%s", path, body)
		}
	}
	_, body := get(t, h, http.MethodGet, "/")
	if !strings.Contains(body, `href="./sites/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E&amp;%27%22"`) {
		t.Errorf("the link to the site is not path-escaped:\n%s", body)
	}
	if !strings.Contains(body, `class="health unknown"`) {
		t.Errorf("an unknown health gets a class of its own:\n%s", body)
	}
}

// TestPollerKeepsLastGoodSnapshot: a failed read keeps the last good one
// and says why; the next good read replaces both.
func TestPollerKeepsLastGoodSnapshot(t *testing.T) {
	clock := t0
	reads := []struct {
		in  *fleetstatus.Inputs
		err error
	}{
		{err: errors.New("first: unreachable")},
		{in: &fleetstatus.Inputs{Revision: "r1"}},
		{err: errors.New("second: unreachable")},
		{in: &fleetstatus.Inputs{Revision: "r2"}},
	}
	i := 0
	fetch := func(context.Context) (*fleetstatus.Inputs, error) {
		r := reads[i]
		i++
		return r.in, r.err
	}
	var logs strings.Builder
	p := NewPoller(fetch, time.Minute, hclog.New(&hclog.LoggerOptions{Output: &logs}), func() time.Time { return clock })
	want := []Snapshot{
		{FailedAt: t0, Err: reads[0].err},
		{Inputs: reads[1].in, AsOf: t0.Add(time.Minute)},
		{Inputs: reads[1].in, AsOf: t0.Add(time.Minute), FailedAt: t0.Add(2 * time.Minute), Err: reads[2].err},
		{Inputs: reads[3].in, AsOf: t0.Add(3 * time.Minute)},
	}
	for n, w := range want {
		err := p.Refresh(context.Background())
		if !errors.Is(err, reads[n].err) {
			t.Fatalf("read %d: %v, want %v", n, err, reads[n].err)
		}
		if got := p.Snapshot(); got != w {
			t.Fatalf("after read %d: %+v, want %+v", n, got, w)
		}
		clock = clock.Add(time.Minute)
	}
	for _, line := range []string{
		"fetch failed; no data to serve yet: error=\"first: unreachable\"",
		"serving the fleet's state: revision=r1",
		"fetch failed; serving the last snapshot: as_of=2026-03-01T12:01:00Z error=\"second: unreachable\"",
		"fetch succeeded again: revision=r2",
	} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs.String())
		}
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 12*time.Minute + 5*time.Second: "12m",
		3*time.Hour + 5*time.Minute: "3h05m", 50 * time.Hour: "2d",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestPollerRunReadsEveryInterval: Run reads at once, then every interval,
// and returns when its context ends.
func TestPollerRunReadsEveryInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reads := make(chan struct{})
	fetch := func(ctx context.Context) (*fleetstatus.Inputs, error) {
		select {
		case reads <- struct{}{}:
		case <-ctx.Done():
		}
		return &fleetstatus.Inputs{Revision: "r"}, nil
	}
	p := NewPoller(fetch, time.Millisecond, hclog.NewNullLogger(), nil)
	done := make(chan struct{})
	go func() {
		p.Run(ctx)
		close(done)
	}()
	for range 3 {
		<-reads
	}
	cancel()
	<-done
	if p.Snapshot().Inputs == nil {
		t.Error("no snapshot after three reads")
	}
}
