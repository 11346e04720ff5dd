package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/dora"
)

// doraFleet is the example fleet repo with a history: storefront 1.5.0
// added, promoted dev -> staging -> prod and recalled.
func doraFleet(t *testing.T) *gitFleet {
	t.Helper()
	g := newGitFleet(t) // 2026-01-01T00:00:00Z
	at := func(when string, msg string, change func()) {
		change()
		g.git("add", "-A")
		g.gitEnv([]string{"GIT_AUTHOR_DATE=" + when, "GIT_COMMITTER_DATE=" + when}, "commit", "--quiet", "-m", msg)
	}
	rel := "products/storefront/releases/"
	at("2026-01-02T00:00:00Z", "storefront 1.5.0", func() {
		if err := os.CopyFS(filepath.Join(g.dir, rel, "1.5.0"), os.DirFS(filepath.Join(g.dir, rel, "1.4.0"))); err != nil {
			t.Fatal(err)
		}
	})
	at("2026-01-02T06:00:00Z", "storefront 1.5.0 on dev", func() { g.edit("channels/storefront.yaml", "dev: 1.4.0", "dev: 1.5.0") })
	at("2026-01-03T00:00:00Z", "promote storefront 1.5.0: dev -> staging", func() {
		g.edit("channels/storefront.yaml", "staging: 1.4.0", "staging: 1.5.0")
	})
	at("2026-01-04T00:00:00Z", "promote storefront 1.5.0: staging -> prod", func() {
		g.edit("channels/storefront.yaml", "prod: 1.4.0", "prod: 1.5.0")
	})
	at("2026-01-04T06:00:00Z", "recall storefront 1.5.0: dev, prod, staging", func() {
		g.write(rel+"1.5.0/release.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Release\nmetadata: {name: storefront-1.5.0}\nspec: {recalled: true, reason: canary}\n")
		g.write("channels/storefront.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: storefront}\nspec: {dev: 1.4.0, staging: 1.4.0, prod: 1.4.0}\n")
	})
	return g
}

func TestFleetDora(t *testing.T) {
	g := doraFleet(t)
	head := g.git("rev-parse", "HEAD")
	report := func(t *testing.T, args ...string) dora.Report {
		t.Helper()
		res := runSyncd(t, append([]string{"fleet", "dora", "--repo-dir", g.dir, "-o", "json"}, args...)...)
		if res.code != 0 || !strings.Contains(res.stderr, "read 6 commits of the history") {
			t.Fatalf("fleet dora %v:\n%s", args, res)
		}
		var r dora.Report
		if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
			t.Fatalf("%v:\n%s", err, res.stdout)
		}
		return r
	}
	storefront := func(t *testing.T, r dora.Report) (dev, prod dora.Channel) {
		t.Helper()
		for _, p := range r.Products {
			if p.Product == "storefront" {
				return p.Channels[0], p.Channels[2]
			}
		}
		t.Fatalf("no storefront in %+v", r.Products)
		return
	}

	t.Run("30 days: the storefront release, not the first commit", func(t *testing.T) {
		r := report(t)
		if r.Revision != head || r.Channel != "prod" || !r.Until.Equal(time.Date(2026, 1, 4, 6, 0, 0, 0, time.UTC)) ||
			r.WindowSeconds != int64(30*dora.Day/time.Second) || len(r.Products) != 6 {
			t.Fatalf("report of %s, channel %s, until %v, window %ds, %d products", r.Revision, r.Channel, r.Until, r.WindowSeconds, len(r.Products))
		}
		dev, prod := storefront(t, r)
		lead, _ := prod.LeadTime.Median()
		restore, _ := prod.TimeToRestore.Median()
		// prod: 1.5.0 two days after its release's commit, recalled 6
		// hours later; what the first commit holds is no deployment.
		if dev.Deployments != 1 || dev.Promotions != 0 || prod.Deployments != 1 || prod.Promotions != 1 || prod.RollOffs != 1 || prod.LeadTime.Count != 1 || lead != 48*time.Hour ||
			prod.ChangeFailure.Failed != 1 || prod.ChangeFailure.Releases != 1 || restore != 6*time.Hour {
			t.Errorf("storefront: dev %+v\nprod %+v", dev, prod)
		}
		if p90, _ := prod.LeadTime.P90(); p90 != 48*time.Hour {
			t.Errorf("storefront lead time p90 %v, want 48h", p90)
		}
		fleet := r.Fleet.Channels[2]
		if fleet.Deployments != 1 || fleet.ChangeFailure.Failed != 1 || fleet.ChangeFailure.Releases != 1 ||
			len(fleet.ChangeFailure.Recalled) != 1 || fleet.ChangeFailure.Recalled[0] != "storefront 1.5.0" {
			t.Errorf("fleet on prod: %+v", fleet)
		}
	})

	t.Run("a day: only the release's promotion and recall", func(t *testing.T) {
		r := report(t, "--window", "1d")
		dev, prod := storefront(t, r)
		lead, _ := prod.LeadTime.Median()
		if dev.Deployments != 0 || dev.RollOffs != 1 || prod.Deployments != 1 || lead != 48*time.Hour ||
			r.Fleet.Channels[2].Deployments != 1 || r.Fleet.Channels[1].Deployments != 0 {
			t.Errorf("storefront: dev %+v\nprod %+v\nfleet %+v", dev, prod, r.Fleet)
		}
	})

	t.Run("staging as the headline, at the revision before the recall", func(t *testing.T) {
		res := runSyncd(t, "fleet", "dora", "HEAD~1", "--repo-dir", g.dir, "--channel", "staging", "--window", "2d")
		if res.code != 0 {
			t.Fatalf("%s", res)
		}
		var row string
		for _, line := range strings.Split(res.stdout, "\n") {
			if strings.HasPrefix(line, "storefront ") {
				row = strings.Join(strings.Fields(line), " ")
			}
		}
		// DEV STAGING PROD STAGING/WEEK PROMOTED LEAD p50 p90 FAILURE RESTORE ROLL-OFFS
		if want := "storefront 1 1 1 3.50 1 1d 1d 0/1 (0%) - 0"; row != want || !strings.Contains(res.stdout, "STAGING/WEEK") ||
			!strings.Contains(res.stdout, "DORA metrics of channel staging over 2d") || !strings.Contains(res.stdout, "nearest-rank") {
			t.Errorf("row %q, want %q:\n%s", row, want, res.stdout)
		}
	})

	t.Run("yaml and --repo agree with json and --repo-dir", func(t *testing.T) {
		want := report(t)
		bare := filepath.Join(t.TempDir(), "fleet.git")
		g.git("clone", "--quiet", "--bare", g.dir, bare)
		res := runSyncd(t, "fleet", "dora", "--repo", "file://"+bare, "--cache-dir", t.TempDir(), "-o", "yaml")
		if res.code != 0 {
			t.Fatalf("%s", res)
		}
		var got dora.Report
		if err := yaml.Unmarshal([]byte(res.stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, res.stdout)
		}
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Errorf("--repo -o yaml:\n%s\n--repo-dir -o json:\n%s", b, a)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"a window without unit", []string{"--window", "30"}, "--window"},
		{"an unknown format", []string{"-o", "xml"}, `-o "xml"`},
		{"an unknown channel", []string{"--channel", "qa"}, `channel "qa"`},
		{"two repos", []string{"--repo", "file:///nowhere"}, "exclusive"},
		{"an unknown revision", []string{"nope"}, `revision "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, append([]string{"fleet", "dora", "--repo-dir", g.dir}, tc.args...)...)
			if res.code != ExitError || !strings.Contains(res.stderr, tc.err) || res.stdout != "" {
				t.Errorf("want exit 2 and %q:\n%s", tc.err, res)
			}
		})
	}
	if res := runSyncd(t, "fleet", "dora", "--repo-dir", t.TempDir()); res.code != ExitError || !strings.Contains(res.stderr, "not inside a Git checkout") {
		t.Errorf("a directory outside Git:\n%s", res)
	}
}
