package fleethistory

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/dora"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// base is the time of the first commit; commits are dated in hours after.
var base = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// repo is a Git checkout built with the git command line, every commit
// dated (author and committer) as the test says.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	r := &repo{t: t, dir: t.TempDir()}
	r.git(0, "init", "--quiet", "--initial-branch=main")
	return r
}

func (r *repo) git(hours float64, args ...string) string {
	r.t.Helper()
	at := base.Add(time.Duration(hours * float64(time.Hour))).Format(time.RFC3339)
	out, err := testenv.RunGit(r.dir, []string{"GIT_AUTHOR_DATE=" + at, "GIT_COMMITTER_DATE=" + at,
		"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1"},
		append([]string{"-c", "commit.gpgsign=false"}, args...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// commit writes files (name -> content; "" deletes) and commits them at
// hours after base.
func (r *repo) commit(hours float64, msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(hours, "add", "-A")
	r.git(hours, "commit", "--quiet", "--allow-empty", "-m", msg)
	return r.git(hours, "rev-parse", "HEAD")
}

// merge merges branch into main with a merge commit.
func (r *repo) merge(hours float64, branch string) string {
	r.t.Helper()
	r.git(hours, "checkout", "--quiet", "main")
	r.git(hours, "merge", "--quiet", "--no-ff", "-m", "merge "+branch, branch)
	return r.git(hours, "rev-parse", "HEAD")
}

func (r *repo) read(dir string) History {
	r.t.Helper()
	local, err := gitsource.OpenLocal(filepath.Join(r.dir, dir))
	if err != nil {
		r.t.Fatal(err)
	}
	var progress []int
	h, err := Read(context.Background(), func(ctx context.Context, fn func(gitsource.WalkCommit) error) error {
		return local.Walk(ctx, "HEAD", fn)
	}, Options{Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(progress) != h.Commits/ProgressEvery {
		r.t.Errorf("progress %v after %d commits", progress, h.Commits)
	}
	return h
}

const fleetYAML = "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: acme}\nspec:\n  channels: [dev, staging, prod]\n"

func channels(product, spec string) string {
	return "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: " + product + "}\nspec: " + spec + "\n"
}

func releaseYAML(recalled bool) string {
	r := "false"
	if recalled {
		r = "true"
	}
	return "apiVersion: syncd.dev/v1alpha1\nkind: Release\nmetadata: {name: x}\nspec: {recalled: " + r + ", reason: \"\"}\n"
}

const kustomization = "resources: []\n"

func at(h float64) time.Time { return base.Add(time.Duration(h * float64(time.Hour))) }

// TestRead builds a fleet repo whose history has a release added on a
// branch, promotions, a channels file broken and fixed, a recall, and a
// channel bump merged from a branch, and checks the events read.
func TestRead(t *testing.T) {
	r := newRepo(t)
	c1 := r.commit(0, "fleet", map[string]string{
		"fleet.yaml": fleetYAML,
		"products/web/releases/1.0.0/kustomization.yaml": kustomization,
		"channels/web.yaml": channels("web", "{dev: 1.0.0, staging: 1.0.0, prod: 1.0.0}"),
	})
	r.git(10, "checkout", "--quiet", "-b", "release-1.1")
	c2 := r.commit(10, "web 1.1.0", map[string]string{"products/web/releases/1.1.0/kustomization.yaml": kustomization})
	r.git(12, "checkout", "--quiet", "main")
	r.commit(12, "unrelated", map[string]string{"fleet.yaml": fleetYAML + "# comment\n"})
	r.merge(20, "release-1.1")
	c5 := r.commit(21, "bump dev", map[string]string{"channels/web.yaml": channels("web", "{dev: 1.1.0, staging: 1.0.0, prod: 1.0.0}")})
	c6 := r.commit(30, "promote web 1.1.0: dev -> staging", map[string]string{"channels/web.yaml": channels("web", "{dev: 1.1.0, staging: 1.1.0, prod: 1.0.0}")})
	c7 := r.commit(40, "promote web 1.1.0: staging -> prod", map[string]string{"channels/web.yaml": channels("web", "{dev: 1.1.0, staging: 1.1.0, prod: 1.1.0}")})
	r.commit(41, "broken", map[string]string{"channels/web.yaml": "spec: [\n"})
	r.commit(42, "fixed", map[string]string{"channels/web.yaml": channels("web", "{dev: 1.1.0, staging: 1.1.0, prod: 1.1.0}") + "# fixed\n"})
	c10 := r.commit(50, "recall web 1.1.0: dev, prod, staging", map[string]string{
		"products/web/releases/1.1.0/release.yaml": releaseYAML(true),
		"channels/web.yaml":                        channels("web", "{dev: 1.0.0, staging: 1.0.0, prod: 1.0.0}"),
	})
	c11 := r.commit(60, "api", map[string]string{
		"products/api/releases/2.0.0/kustomization.yaml": kustomization,
		"products/api/releases/2.0.0/release.yaml":       releaseYAML(false),
		"channels/api.yaml":                              channels("api", "{dev: 2.0.0}"),
	})
	r.git(70, "checkout", "--quiet", "-b", "bump")
	r.commit(70, "promote api 2.0.0: dev -> staging", map[string]string{"channels/api.yaml": channels("api", "{dev: 2.0.0, staging: 2.0.0}")})
	r.git(72, "checkout", "--quiet", "main")
	r.commit(72, "unrelated again", map[string]string{"fleet.yaml": fleetYAML})
	m2 := r.merge(80, "bump")

	h := r.read(".")
	if h.Head != m2 || !h.HeadTime.Equal(at(80)) || h.Commits != 14 {
		t.Errorf("head %s at %v, %d commits; want %s at %v, 14", h.Head, h.HeadTime, h.Commits, m2, at(80))
	}
	if !slices.Equal(h.Channels, []string{"dev", "staging", "prod"}) || !slices.Equal(h.Products, []string{"api", "web"}) {
		t.Errorf("channels %v, products %v", h.Channels, h.Products)
	}
	wantReleases := []dora.Release{
		{Product: "api", Version: "2.0.0", Time: at(60), Commit: c11},
		{Product: "web", Version: "1.0.0", Time: at(0), Commit: c1},
		{Product: "web", Version: "1.1.0", Time: at(10), Commit: c2},
	}
	if !slices.EqualFunc(h.Releases, wantReleases, func(a, b dora.Release) bool {
		return a.Product == b.Product && a.Version == b.Version && a.Time.Equal(b.Time) && a.Commit == b.Commit
	}) {
		t.Errorf("releases:\n got %+v\nwant %+v", h.Releases, wantReleases)
	}
	type ch struct {
		product, channel, from, to  string
		rollOff, baseline, promoted bool
		at                          time.Time
		commit                      string
	}
	var got []ch
	seqs := map[string]int{}
	for _, c := range h.Changes {
		got = append(got, ch{c.Product, c.Channel, c.From, c.To, c.RollOff, c.Baseline, c.Promoted, c.Time.UTC(), c.Commit})
		if s, ok := seqs[c.Commit]; ok && s != c.Seq {
			t.Errorf("commit %s has changes of seq %d and %d", c.Commit, s, c.Seq)
		}
		seqs[c.Commit] = c.Seq
	}
	want := []ch{
		{"web", "dev", "", "1.0.0", false, true, false, at(0), c1},
		{"web", "prod", "", "1.0.0", false, true, false, at(0), c1},
		{"web", "staging", "", "1.0.0", false, true, false, at(0), c1},
		{"web", "dev", "1.0.0", "1.1.0", false, false, false, at(21), c5},
		{"web", "staging", "1.0.0", "1.1.0", false, false, true, at(30), c6},
		{"web", "prod", "1.0.0", "1.1.0", false, false, true, at(40), c7},
		{"web", "dev", "1.1.0", "1.0.0", true, false, false, at(50), c10},
		{"web", "prod", "1.1.0", "1.0.0", true, false, false, at(50), c10},
		{"web", "staging", "1.1.0", "1.0.0", true, false, false, at(50), c10},
		{"api", "dev", "", "2.0.0", false, false, false, at(60), c11},
		{"api", "staging", "", "2.0.0", false, false, true, at(80), m2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %+v\nwant %+v", got, want)
	}
	if !slices.IsSortedFunc(h.Changes, func(a, b dora.Change) int { return a.Seq - b.Seq }) {
		t.Errorf("changes not in commit order: %+v", h.Changes)
	}
	if len(h.Recalls) != 1 || h.Recalls[0].Product != "web" || h.Recalls[0].Version != "1.1.0" ||
		h.Recalls[0].Commit != c10 || h.Recalls[0].Seq != seqs[c10] || !h.Recalls[0].Time.Equal(at(50)) {
		t.Errorf("recalls: %+v; want web 1.1.0 by %s (seq %d)", h.Recalls, c10, seqs[c10])
	}

	// The metrics of this history, over the last 3 days.
	rep, err := dora.Compute(h.History, dora.Options{Window: 3 * dora.Day})
	if err != nil {
		t.Fatal(err)
	}
	var web dora.Channel
	for _, p := range rep.Products {
		if p.Product == "web" {
			web = p.Channels[2]
		}
	}
	lead, _ := web.LeadTime.Median()
	restore, _ := web.TimeToRestore.Median()
	if web.Channel != "prod" || web.Deployments != 1 || web.RollOffs != 1 || lead != 30*time.Hour ||
		web.ChangeFailure.Failed != 1 || web.ChangeFailure.Releases != 1 || restore != 10*time.Hour {
		t.Errorf("web on prod: %+v", web)
	}
}

// TestReadInsideACheckout reads a fleet repo kept in a directory of a
// larger checkout, which did not exist in the first commits.
func TestReadInsideACheckout(t *testing.T) {
	r := newRepo(t)
	r.commit(0, "other things", map[string]string{"README": "x"})
	c2 := r.commit(5, "fleet", map[string]string{
		"deploy/fleet.yaml": fleetYAML,
		"deploy/products/web/releases/1.0.0/kustomization.yaml": kustomization,
		"deploy/channels/web.yaml":                              channels("web", "{prod: 1.0.0}"),
		"channels/web.yaml":                                     channels("web", "{prod: 9.9.9}"),
	})
	h := r.read("deploy")
	if h.Commits != 2 || len(h.Changes) != 1 || h.Changes[0].To != "1.0.0" || h.Changes[0].Commit != c2 ||
		len(h.Releases) != 1 || h.Releases[0].Commit != c2 {
		t.Errorf("history of deploy/: %+v", h)
	}
}

// FuzzParseChannels feeds the lenient readers of the fleet repo's files
// (which anyone with push access writes) any content: they must not panic,
// and a channels file that does not parse has no channels.
func FuzzParseChannels(f *testing.F) {
	for _, s := range []string{channels("web", "{dev: 1.0.0}"), "spec: [", "", "spec: {dev: 1}", releaseYAML(true), "spec: {recalled: yes}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, ok := ParseChannels(data)
		if !ok && spec != nil {
			t.Fatalf("ParseChannels(%q) = %v, false", data, spec)
		}
		_ = ParseRecalled(data)
	})
}
