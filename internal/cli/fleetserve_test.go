package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/syncd-dev/syncd/internal/fleetstatus"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// syncBuffer is a bytes.Buffer that a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servedFleet is `syncd fleet serve` running on a fleet repo (file://)
// whose status branches hold: eu-1 signed, web ERROR with drift; us-1
// unsigned and an hour old (stale); bad unreadable.
type servedFleet struct {
	repoDir string // the fleet repo; renamed away to make Git unreachable
	url     string // http://host:port of the dashboard
	stderr  *syncBuffer
}

func serveFleet(t *testing.T) *servedFleet {
	t.Helper()
	g := newGitFleet(t)
	key, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "eu-1"), "eu-1", "")
	if err != nil {
		t.Fatal(err)
	}
	g.write("sites/eu-1/site.pub", key.AuthorizedKey+"\n")
	g.commit("eu-1 signs its reports")
	repo := "file://" + g.dir
	ctx := context.Background()
	publish := func(signingKey string, st *status.SiteStatus) {
		t.Helper()
		src, err := gitsource.New(gitsource.Options{URL: repo, CacheDir: t.TempDir(), Timeout: time.Minute, SigningKey: signingKey})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := status.NewPublisher(src, st.Site, nil).Publish(ctx, st); err != nil || !ok {
			t.Fatalf("publishing the report of %s: %v %v", st.Site, ok, err)
		}
	}
	now := time.Now()
	publish(key.PrivatePath, &status.SiteStatus{Site: "eu-1", Revision: "0123456789abcdef0123456789abcdef01234567", UpdatedAt: now,
		Products: []status.ProductStatus{{Name: "web", Version: "9.9.9", Health: health.Error, Since: now, VersionSince: now, Drift: 3, Conflicts: 1}}})
	old := now.Add(-time.Hour)
	publish("", &status.SiteStatus{Site: "us-1", Revision: "abc", UpdatedAt: old,
		Products: []status.ProductStatus{{Name: "web", Version: "9.9.8", Health: health.Healthy, Since: old, VersionSince: old}}})
	src, err := gitsource.New(gitsource.Options{URL: repo, CacheDir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Commit(ctx, gitsource.CommitRequest{Branch: status.Branch("bad"), Force: true, Message: "junk",
		Change: func(w *gitsource.WorkTree) error { return w.WriteFile(status.ReportFile, []byte("nonsense: [")) }}); err != nil {
		t.Fatal(err)
	}

	f := &servedFleet{repoDir: g.dir, stderr: &syncBuffer{}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan int)
	go func() {
		done <- Execute(runCtx, []string{"fleet", "serve", "--repo", repo, "--cache-dir", t.TempDir(),
			"--listen", "127.0.0.1:0", "--interval", "100ms"}, strings.NewReader(""), io.Discard, f.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("fleet serve exited %d:\n%s", code, f.stderr)
		}
	})
	addr := regexp.MustCompile(`serving the fleet dashboard .* address=(\S+)`)
	waitFor(t, "the dashboard to listen", f.stderr, func() bool {
		m := addr.FindStringSubmatch(f.stderr.String())
		if m != nil {
			f.url = "http://" + m[1]
		}
		return m != nil
	})
	waitFor(t, "the first snapshot", f.stderr, func() bool { code, _ := f.get(t, "/readyz"); return code == 200 })
	return f
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; stderr:\n%s", what, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the status code and body of GET path, or 0 when the server
// does not answer.
func (f *servedFleet) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get(f.url + path)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// TestFleetServe: the dashboard shows what `fleet status` shows, as HTML
// and as JSON; when Git becomes unreachable it keeps serving the last
// snapshot, says how old it is and why the fetch failed, and logs it.
func TestFleetServe(t *testing.T) {
	f := serveFleet(t)
	code, body := f.get(t, "/api/fleet")
	var view fleetstatus.View
	if code != 200 || json.Unmarshal([]byte(body), &view) != nil {
		t.Fatalf("GET /api/fleet: %d\n%s", code, body)
	}
	cells := map[string]fleetstatus.Site{}
	for _, p := range view.Products {
		for _, s := range p.Sites {
			if p.Name == "web" {
				cells[s.Site] = s
			}
		}
	}
	if c := cells["eu-1"]; c.Health != health.Error || c.Drift != 3 || c.Unsigned || c.Stale {
		t.Errorf("web at eu-1: %+v", c)
	}
	if c := cells["us-1"]; c.Health != health.Unknown || !c.Stale || !c.Unsigned {
		t.Errorf("web at us-1: %+v", c)
	}
	if len(view.Unreadable) != 1 || view.Unreadable[0].Site != "bad" {
		t.Errorf("unreadable: %+v", view.Unreadable)
	}
	// The same shape as `fleet status -o json`.
	res := runSyncd(t, "fleet", "status", "--repo", "file://"+f.repoDir, "--cache-dir", t.TempDir(), "-o", "json")
	var cli fleetstatus.View
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &cli) != nil || len(cli.Products) != len(view.Products) || len(cli.Sites) != len(view.Sites) {
		t.Fatalf("fleet status -o json:\n%s\nGET /api/fleet:\n%s", res, body)
	}
	for _, want := range []string{"report not read (said once until it changes): site=bad", "report read unsigned", "site=us-1"} {
		if !strings.Contains(f.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, f.stderr)
		}
	}

	// Git unreachable: the last snapshot stays.
	if err := os.Rename(f.repoDir, f.repoDir+".gone"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed fetch", f.stderr, func() bool {
		_, body := f.get(t, "/healthz")
		return strings.Contains(body, "last fetch failed")
	})
	code, body = f.get(t, "/")
	if code != 200 || !regexp.MustCompile(`Data as of \S+ \(\S+ ago\), fleet repo at [0-9a-f]{12}; last fetch failed at \S+: `).MatchString(body) ||
		!strings.Contains(body, `<span class="health error">ERROR</span>`) {
		t.Errorf("GET / while Git is unreachable: %d\n%s", code, body)
	}
	if !strings.Contains(f.stderr.String(), "fetch failed; serving the last snapshot") {
		t.Errorf("stderr does not name the failed fetch:\n%s", f.stderr)
	}
	if code, _ := f.get(t, "/api/fleet"); code != 200 {
		t.Errorf("GET /api/fleet while Git is unreachable: %d", code)
	}
}

// TestFleetServeArguments: what cannot serve fails at once, exit 2.
func TestFleetServeArguments(t *testing.T) {
	repo := "file://" + newGitFleet(t).dir
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no repo", nil, "--repo (or SYNCD_REPO) is required"},
		{"no interval", []string{"--repo", repo, "--interval", "0s"}, "--interval 0s: want a positive duration"},
		{"bad listen", []string{"--repo", repo, "--listen", "127.0.0.1:notaport"}, "--listen 127.0.0.1:notaport"},
		{"bad log format", []string{"--repo", repo, "--log-format", "xml"}, "--log-format \"xml\""},
		{"arguments", []string{"--repo", repo, "extra"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, append([]string{"fleet", "serve", "--cache-dir", t.TempDir()}, tc.args...)...)
			if res.code != ExitError || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("want exit %d and %q:\n%s", ExitError, tc.want, res)
			}
		})
	}
}

// chromium is the browser the browser tests drive: Debian's chromium
// package (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it): the dashboard's browser test needs it")
	return ""
}

// TestFleetServeInBrowser loads the dashboard in headless Chromium and reads
// what a person sees: the ERROR of a site, a stale report marked stale, an
// unsigned report named, an unreadable one named with its error, and the
// page of a site reached through its link.
func TestFleetServeInBrowser(t *testing.T) {
	path := chromium(t)
	f := serveFleet(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	row := func(site string) string { return `#grid tr[data-site="` + site + `"]` }
	if err := chromedp.Do(ctx, chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.CSS("#grid"))); err != nil {
		t.Fatalf("loading %s: %v\nstderr:\n%s", f.url, err, f.stderr)
	}
	text := func(sel string) string {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return got
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	banner, eu1, us1, bad := text("#banner"), text(row("eu-1")), text(row("us-1")), text(row("bad"))
	for _, c := range []struct{ what, got, want string }{
		{"title", title, "syncd · Fleet"},
		{"banner", banner, "Data as of "},
		{"eu-1", eu1, "9.9.9 ERROR"},
		{"eu-1", eu1, "drift 3"},
		{"eu-1", eu1, "conflicts 1"},
		{"eu-1", eu1, "at 0123456789ab"},
		{"us-1", us1, "stale"},
		{"us-1", us1, "unsigned"},
		{"us-1", us1, "9.9.8 UNKNOWN"},
		{"bad", bad, "unreadable"},
		{"bad", bad, "report not read: "},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%s shows %q, want it to contain %q", c.what, c.got, c.want)
		}
	}
	if strings.Contains(eu1, "unsigned") || strings.Contains(eu1, "stale") {
		t.Errorf("eu-1 (signed, fresh) shows %q", eu1)
	}
	// Health is coloured: ERROR red, UNKNOWN grey.
	for sel, want := range map[string]string{
		row("eu-1") + " .health": "rgb(207, 34, 46)",
		row("us-1") + " .health": "rgb(110, 119, 129)",
	} {
		style, err := chromedp.Run(ctx, chromedp.ComputedStyle(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("style of %s: %v", sel, err)
		}
		var bg string
		for _, p := range style {
			if p.Name == "background-color" {
				bg = p.Value
			}
		}
		if bg != want {
			t.Errorf("%s: background %q, want %q", sel, bg, want)
		}
	}
	// The site's link leads to its page.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row("eu-1")+` a[href="./sites/eu-1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#products"))); err != nil {
		t.Fatalf("following the link to eu-1: %v", err)
	}
	products := text(`#products tr[data-product="web"]`)
	if !strings.Contains(products, "9.9.9 ERROR") {
		t.Errorf("the page of eu-1 shows web as %q", products)
	}
}
