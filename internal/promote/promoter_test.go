package promote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// gitFleet is a world pushed to a real sshd.
type gitFleet struct {
	t   *testing.T
	srv *testenv.GitServer
	url string
}

func newGitFleet(t *testing.T, w world) *gitFleet {
	t.Helper()
	srv := testenv.NewGitServer(t)
	seed := t.TempDir()
	for name, data := range w.files() {
		p := filepath.Join(seed, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &gitFleet{t: t, srv: srv, url: testenv.SeedRepo(t, srv, "fleet.git", "main", seed)}
}

func (f *gitFleet) source(cache string) *gitsource.Source {
	f.t.Helper()
	if cache == "" {
		cache = f.t.TempDir()
	}
	src, err := gitsource.New(gitsource.Options{
		URL: f.url, IdentityFile: f.srv.DeployKey.PrivatePath, KnownHostsFile: f.srv.KnownHosts,
		CacheDir: cache, Timeout: 3 * time.Minute,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return src
}

func (f *gitFleet) remote(args ...string) string {
	f.t.Helper()
	return testenv.Git(f.t, f.srv.RepoPath("fleet.git"), args...)
}

// personCommits clones main, lets edit change the work tree, and pushes.
func (f *gitFleet) personCommits(msg string, edit func(dir string)) {
	f.t.Helper()
	dir := f.t.TempDir()
	env := []string{"GIT_SSH_COMMAND=" + f.srv.GitSSHCommand(f.srv.DeployKey.PrivatePath)}
	run := func(args ...string) {
		if _, err := testenv.RunGit(dir, env, args...); err != nil {
			f.t.Fatal(err)
		}
	}
	run("clone", "--quiet", f.url, ".")
	edit(dir)
	run("commit", "--quiet", "-am", msg)
	run("push", "--quiet", "origin", "main")
}

func staticReports(r map[string]*status.Report) ReportReader {
	return func(context.Context, FleetAt) (map[string]*status.Report, map[string]error, error) {
		return r, nil, nil
	}
}

// later is a clock two hours ahead: every timed soak of the test world
// (1h) is over.
func later() time.Time { return time.Now().Add(2 * time.Hour) }

func TestPromoterCommitsATimedPromotionOnce(t *testing.T) {
	w := defaultWorld()
	w.channels = "\n  # dev moves first\n  dev: 1.2.0 # newest\n  staging: 1.1.0\n  prod: 1.0.0"
	f := newGitFleet(t, w)
	head := f.remote("rev-parse", "main")
	p := &Promoter{Git: f.source(""), Reports: staticReports(nil), Now: later}
	res, err := p.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sha := res.Commits["web/dev/staging"]
	if sha == "" || f.remote("rev-parse", "main") != sha || f.remote("rev-parse", "main^") != head {
		t.Fatalf("commits = %v; main should be one promotion commit on %s", res.Commits, head)
	}
	msg := f.remote("log", "-1", "--format=%B", "main")
	for _, want := range []string{"promote web 1.2.0: dev -> staging", "Syncd-Stage: dev -> staging", "Syncd-Decision: timed: 1.2.0 on dev since"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	if got := f.remote("show", "main:channels/web.yaml"); !strings.Contains(got, "spec:\n  # dev moves first\n  dev: 1.2.0 # newest\n  staging: 1.2.0\n  prod: 1.0.0") {
		t.Errorf("channels file lost its layout or comment:\n%s", got)
	}
	if files := f.remote("show", "--format=", "--name-only", "main"); files != "channels/web.yaml" {
		t.Errorf("the promotion changed %q, want channels/web.yaml only", files)
	}
	// Nothing new: nothing committed.
	res, err = p.Once(context.Background())
	if err != nil || len(res.Commits) != 0 || f.remote("rev-parse", "main") != sha {
		t.Fatalf("second evaluation committed %v (%v)", res.Commits, err)
	}
}

func TestConcurrentPromotersCommitOnce(t *testing.T) {
	f := newGitFleet(t, defaultWorld())
	head := f.remote("rev-parse", "main")
	shared := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		cache := "" // half with a cache of their own, half sharing one
		if i%2 == 0 {
			cache = shared
		}
		p := &Promoter{Git: f.source(cache), Reports: staticReports(nil), Now: later}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Once(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		// Ten SSH sessions at once on a loaded machine: the server may drop
		// one before its fetch is done ("closing input: EOF"). A promoter
		// that could not fetch did nothing; it evaluates again, as it would
		// at its next interval, and must then find nothing left to do.
		if err != nil && strings.Contains(err.Error(), "fetching the fleet repo") {
			t.Logf("promoter %d could not fetch (%v); evaluating again", i, err)
			cache := ""
			if i%2 == 0 {
				cache = shared
			}
			_, err = (&Promoter{Git: f.source(cache), Reports: staticReports(nil), Now: later}).Once(context.Background())
		}
		if err != nil {
			t.Errorf("promoter %d: %v", i, err)
		}
	}
	if n := f.remote("rev-list", "--count", head+"..main"); n != "1" {
		t.Fatalf("%s commits after 10 concurrent promoters, want exactly 1:\n%s", n, f.remote("log", "--oneline", head+"..main"))
	}
}

// racingGit lets a person push between the evaluation and the push.
type racingGit struct {
	*gitsource.Source
	once   sync.Once
	before func()
}

func (r *racingGit) CommitChange(ctx context.Context, req gitsource.CommitRequest) (string, bool, error) {
	r.once.Do(r.before)
	return r.Source.CommitChange(ctx, req)
}

func TestPromoterKeepsAPersonsConcurrentCommit(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(dir string)
		promotions string // commits by the promoter expected
	}{
		{"unrelated change", func(dir string) {
			appendFile(t, filepath.Join(dir, "products/api/product.yaml"), "# touched by a person\n")
		}, "1"},
		{"the person made the same bump", func(dir string) {
			replaceIn(t, filepath.Join(dir, "channels/web.yaml"), "staging: 1.1.0", "staging: 1.2.0")
		}, "0"},
		{"the person moved dev on", func(dir string) {
			replaceIn(t, filepath.Join(dir, "channels/web.yaml"), "dev: 1.2.0", "dev: 1.3.0")
		}, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGitFleet(t, defaultWorld())
			g := &racingGit{Source: f.source("")}
			g.before = func() { f.personCommits("a person's change", tt.edit) }
			p := &Promoter{Git: g, Reports: staticReports(nil), Now: later}
			if _, err := p.Once(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.remote("log", "--format=%s", "main", "--grep=a person's change"); got != "a person's change" {
				t.Fatalf("the person's commit is lost: %q", got)
			}
			if got := f.remote("rev-list", "--count", "--grep=^promote web", "main"); got != tt.promotions {
				t.Fatalf("%s promotion commits, want %s:\n%s", got, tt.promotions, f.remote("log", "--oneline", "main"))
			}
		})
	}
}

func TestPromoterPullRequestMode(t *testing.T) {
	w := defaultWorld()
	w.fleetSpec = strings.Replace(w.fleetSpec, "- {from: dev, to: staging, timed: {duration: 1h}}",
		"- {from: dev, to: staging, approval: pull-request, timed: {duration: 1h}}", 1)
	f := newGitFleet(t, w)
	head := f.remote("rev-parse", "main")
	p := &Promoter{Git: f.source(""), Reports: staticReports(nil), Now: later}
	res, err := p.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const branch = "promote/web/staging/1.2.0"
	sha := f.remote("rev-parse", branch)
	if res.Commits["web/dev/staging"] != sha || f.remote("rev-parse", "main") != head || f.remote("rev-parse", branch+"^") != head {
		t.Fatalf("want %s as one commit on main's head and main untouched; commits %v", branch, res.Commits)
	}
	// The tracked branch moves; the bump is the same: the branch stays.
	f.personCommits("unrelated", func(dir string) { appendFile(t, filepath.Join(dir, "fleet.yaml"), "# note\n") })
	res, err = p.Once(context.Background())
	if err != nil || len(res.Commits) != 0 || f.remote("rev-parse", branch) != sha {
		t.Fatalf("re-evaluation replaced the pull-request branch without a new bump: %v %v", res.Commits, err)
	}
}

func TestPromoterRecallsAndRollsBack(t *testing.T) {
	w := defaultWorld()
	w.channels = "{dev: 1.1.0, staging: 1.1.0, prod: 1.0.0}"
	f := newGitFleet(t, w)
	now := time.Now()
	rep := &status.Report{FormatVersion: 2, Site: "c1", RefreshedAt: now, Products: []status.ReportProduct{{
		Name: "web", Version: "1.1.0", VersionSince: now.Add(-time.Hour),
		Intervals: []status.Interval{{Health: health.Healthy, From: now.Add(-time.Hour)}, {Health: health.Error, From: now.Add(-5 * time.Minute)}}}}}
	p := &Promoter{Git: f.source(""), Reports: staticReports(map[string]*status.Report{"c1": rep}), Now: func() time.Time { return now }}
	res, err := p.Once(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Commits["web/staging/prod"] == "" {
		t.Fatalf("no recall commit: %+v", res.Decisions)
	}
	if got := f.remote("log", "-1", "--format=%s", "main"); got != "recall web 1.1.0: dev, staging" {
		t.Errorf("recall subject = %q", got)
	}
	if got := f.remote("show", "main:channels/web.yaml"); !strings.Contains(got, "{dev: 1.0.0, staging: 1.0.0, prod: 1.0.0}") {
		t.Errorf("channels after recall:\n%s", got)
	}
	if got := f.remote("show", "main:products/web/releases/1.1.0/release.yaml"); !strings.Contains(got, "recalled: true") || !strings.Contains(got, "c1 ERROR") {
		t.Errorf("release.yaml after recall:\n%s", got)
	}
	// Recalled: never promoted again, nothing more committed.
	head := f.remote("rev-parse", "main")
	if res, err = p.Once(context.Background()); err != nil || len(res.Commits) != 0 || f.remote("rev-parse", "main") != head {
		t.Fatalf("evaluation after the recall committed %v (%v)", res.Commits, err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, text...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q (%v)", path, old, err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
