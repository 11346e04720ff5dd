package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/render"
	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/version"
)

// summaryRow is one product row of the `sync --once` summary table.
type summaryRow struct {
	version                                string
	created, configured, unchanged, pruned string
	health, note                           string
}

// parseSummary checks the table header and returns the rows by product.
func parseSummary(t *testing.T, stdout string) map[string]summaryRow {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) == 0 || strings.Join(strings.Fields(lines[0]), " ") != "PRODUCT VERSION CREATED CONFIGURED UNCHANGED PRUNED HEALTH NOTE" {
		t.Fatalf("summary table has no header:\n%s", stdout)
	}
	rows := map[string]summaryRow{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 7 {
			t.Fatalf("summary row %q has %d columns, want at least 7", l, len(f))
		}
		if _, dup := rows[f[0]]; dup {
			t.Fatalf("product %s has two rows:\n%s", f[0], stdout)
		}
		rows[f[0]] = summaryRow{
			version: f[1], created: f[2], configured: f[3], unchanged: f[4], pruned: f[5],
			health: f[6], note: strings.Join(f[7:], " "),
		}
	}
	return rows
}

// wantRows compares the rows' columns but the note, and the note's prefix.
func wantRows(t *testing.T, res syncdResult, want map[string]summaryRow) {
	t.Helper()
	got := parseSummary(t, res.stdout)
	if len(got) != len(want) {
		t.Errorf("summary has %d rows, want %d:\n%s", len(got), len(want), res.stdout)
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("summary has no row for %s:\n%s", name, res.stdout)
			continue
		}
		note := g.note
		g.note, w.note = strings.TrimSpace(note[:min(len(note), len(w.note))]), strings.TrimSpace(w.note)
		if g != w {
			t.Errorf("row %s = %+v (note %q), want %+v", name, g, note, w)
		}
	}
}

func TestSyncOnce(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const site = "sync-site"
	f := newTestFleet(t, site)
	f.addProduct("alpha", "st-alpha", "1.0.0", "info", nil)
	f.addProduct("beta", "st-beta", "1.0.0", "info", nil)
	f.write("products/beta/product.yaml", productYAML("beta", "st-beta", "  dependencies: [{product: alpha, minVersion: 1.0.0}]"))
	args := []string{"sync", "--once", "--site", site, "--repo-dir", f.dir, "--kubeconfig", c.Kubeconfig, "--health-timeout", "20s"}

	liveLevel := func(t *testing.T, namespace, name string) string {
		t.Helper()
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cm); err != nil {
			t.Fatalf("ConfigMap %s/%s: %v", namespace, name, err)
		}
		return cm.Data["level"]
	}

	if !t.Run("first sync creates everything", func(t *testing.T) {
		res := runSyncd(t, args...)
		if res.code != ExitOK {
			t.Fatalf("sync --once: %v", res)
		}
		wantRows(t, res, map[string]summaryRow{
			"alpha": {version: "1.0.0", created: "2", configured: "0", unchanged: "0", pruned: "0", health: "HEALTHY"},
			"beta":  {version: "1.0.0", created: "2", configured: "0", unchanged: "0", pruned: "0", health: "HEALTHY"},
		})
		rows := parseSummary(t, res.stdout)
		if rows["alpha"].note != "" || rows["beta"].note != "" {
			t.Errorf("healthy products have notes:\n%s", res.stdout)
		}
		// Progress goes to stderr, never into the table.
		for _, want := range []string{"site " + site, "alpha 1.0.0: applying 2 object(s)", "beta 1.0.0: applying 2 object(s)"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("progress on stderr lacks %q:\n%s", want, res.stderr)
			}
		}
		if strings.Contains(res.stdout, "applying") {
			t.Errorf("progress on stdout:\n%s", res.stdout)
		}
		// alpha comes first: beta depends on it.
		if a, b := strings.Index(res.stdout, "\nalpha "), strings.Index(res.stdout, "\nbeta "); a < 0 || b < a {
			t.Errorf("rows not in dependency order:\n%s", res.stdout)
		}
		// The one-off sync records the site status, as the daemon does.
		st := runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig)
		if st.code != ExitOK || !strings.Contains(st.stdout, "alpha") || !strings.Contains(st.stdout, "HEALTHY") {
			t.Errorf("syncd status after sync --once: %v", st)
		}
		if got := liveLevel(t, "st-alpha", "alpha-config"); got != "info" {
			t.Errorf("alpha-config level = %q, want info", got)
		}
	}) {
		return
	}

	if !t.Run("flags from SYNCD_ environment variables", func(t *testing.T) {
		t.Setenv("SYNCD_SITE", site)
		t.Setenv("SYNCD_REPO_DIR", f.dir)
		t.Setenv("SYNCD_KUBECONFIG", c.Kubeconfig)
		t.Setenv("SYNCD_HEALTH_TIMEOUT", "20s")
		res := runSyncd(t, "sync", "--once")
		if res.code != ExitOK {
			t.Fatalf("sync --once with SYNCD_* variables: %v", res)
		}
		wantRows(t, res, map[string]summaryRow{
			"alpha": {version: "1.0.0", created: "0", configured: "0", unchanged: "2", pruned: "0", health: "HEALTHY"},
			"beta":  {version: "1.0.0", created: "0", configured: "0", unchanged: "2", pruned: "0", health: "HEALTHY"},
		})
		// A malformed variable is an error naming it.
		t.Setenv("SYNCD_HEALTH_TIMEOUT", "soon")
		res = runSyncd(t, "sync", "--once")
		if res.code != ExitError || !strings.Contains(res.stderr, "SYNCD_HEALTH_TIMEOUT") {
			t.Fatalf("sync with SYNCD_HEALTH_TIMEOUT=soon: %v\nwant exit 2 naming the variable", res)
		}
	}) {
		return
	}

	if !t.Run("new release configures", func(t *testing.T) {
		f.addRelease("alpha", "st-alpha", "1.1.0", "debug", nil)
		f.write("channels/alpha.yaml", channelsYAML("alpha", "1.1.0"))
		res := runSyncd(t, args...)
		if res.code != ExitOK {
			t.Fatalf("sync --once: %v", res)
		}
		// The Namespace's version label and the ConfigMap change.
		wantRows(t, res, map[string]summaryRow{
			"alpha": {version: "1.1.0", created: "0", configured: "2", unchanged: "0", pruned: "0", health: "HEALTHY"},
			"beta":  {version: "1.0.0", created: "0", configured: "0", unchanged: "2", pruned: "0", health: "HEALTHY"},
		})
		if got := liveLevel(t, "st-alpha", "alpha-config"); got != "debug" {
			t.Errorf("alpha-config level = %q, want debug", got)
		}
	}) {
		return
	}

	if !t.Run("broken product: error row, the other applied", func(t *testing.T) {
		f.addRelease("beta", "st-beta", "2.0.0", "warn", nil)
		f.write("products/beta/releases/2.0.0/cm.yaml", "kind: [unclosed\n")
		f.write("channels/beta.yaml", channelsYAML("beta", "2.0.0"))
		f.addRelease("alpha", "st-alpha", "1.2.0", "error", nil)
		f.write("channels/alpha.yaml", channelsYAML("alpha", "1.2.0"))
		res := runSyncd(t, args...)
		if res.code != ExitError {
			t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
		}
		wantRows(t, res, map[string]summaryRow{
			"alpha": {version: "1.2.0", created: "0", configured: "2", unchanged: "0", pruned: "0", health: "HEALTHY"},
			"beta":  {version: "2.0.0", created: "0", configured: "0", unchanged: "0", pruned: "0", health: "UNKNOWN", note: "error:"},
		})
		if note := parseSummary(t, res.stdout)["beta"].note; !strings.Contains(note, "products/beta/releases/2.0.0") {
			t.Errorf("beta's note %q does not name the broken release", note)
		}
		if !strings.Contains(res.stderr, "beta") || !strings.Contains(res.stderr, "products/beta/releases/2.0.0") {
			t.Errorf("stderr does not report beta's failure:\n%s", res.stderr)
		}
		if got := liveLevel(t, "st-alpha", "alpha-config"); got != "error" {
			t.Errorf("alpha-config level = %q, want error: alpha must be applied beside the broken beta", got)
		}
		// Nothing of beta was changed or pruned.
		if got := liveLevel(t, "st-beta", "beta-config"); got != "info" {
			t.Errorf("beta-config level = %q, want the 1.0.0 value info", got)
		}
	}) {
		return
	}

	t.Run("product removed from the site: pruned", func(t *testing.T) {
		f.remove("products/beta")
		f.remove("channels/beta.yaml")
		res := runSyncd(t, args...)
		if res.code != ExitOK {
			t.Fatalf("sync --once: %v", res)
		}
		wantRows(t, res, map[string]summaryRow{
			"alpha": {version: "1.2.0", created: "0", configured: "0", unchanged: "2", pruned: "0", health: "HEALTHY"},
			"beta":  {version: "1.0.0", created: "0", configured: "0", unchanged: "0", pruned: "2", health: "UNKNOWN", note: "removed from site"},
		})
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: "st-beta", Name: "beta-config"}, &corev1.ConfigMap{})
		if err == nil {
			t.Error("beta-config still exists after beta left the site")
		}
	})
}

// sync --once keeps the renders of the revision it synced in --cache-dir,
// for the next run (render.TestCacheSavedAndLoaded shows that a loaded cache
// runs kustomize for nothing that did not change): a render no longer asked
// for leaves the file, and a run with the cache gives the same result.
func TestSyncOnceKeepsRendersInCacheDir(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "sync-cache"
	f := newTestFleet(t, site)
	f.addProduct("alpha", "sc-alpha", "1.0.0", "info", nil)
	f.addProduct("beta", "sc-beta", "1.0.0", "info", nil)
	cacheDir := t.TempDir()
	args := []string{"sync", "--once", "--site", site, "--repo-dir", f.dir, "--kubeconfig", c.Kubeconfig, "--cache-dir", cacheDir, "--health-timeout", "20s"}
	saved := func(t *testing.T) int {
		t.Helper()
		file, err := os.Open(filepath.Join(cacheDir, rendersFile))
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		cache, err := render.LoadCache(file, version.Version)
		if err != nil {
			t.Fatal(err)
		}
		return cache.Len()
	}
	for i, unchanged := range []string{"0", "2", "1"} {
		if i == 2 {
			f.addProduct("beta", "sc-beta", "1.0.0", "debug", nil)
		}
		res := runSyncd(t, args...)
		if res.code != ExitOK {
			t.Fatalf("sync %d: %v", i+1, res)
		}
		if rows := parseSummary(t, res.stdout); rows["alpha"].unchanged != "2" && i > 0 || rows["beta"].unchanged != unchanged {
			t.Fatalf("sync %d: beta unchanged %s, want %s:\n%s", i+1, rows["beta"].unchanged, unchanged, res.stdout)
		}
		if got := saved(t); got != 2 {
			t.Fatalf("after sync %d: %d renders saved, want 2 (alpha and beta as last synced)", i+1, got)
		}
	}
	// The file is read: one that does not decode is said, then replaced.
	if err := os.WriteFile(filepath.Join(cacheDir, rendersFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runSyncd(t, args...); res.code != ExitOK || !strings.Contains(res.stderr, "warning: render cache") || !strings.Contains(res.stderr, "(rendering everything)") {
		t.Fatalf("sync with a broken render cache: %v", res)
	}
	if got := saved(t); got != 2 {
		t.Fatalf("after the broken cache: %d renders saved, want 2", got)
	}
}

func TestSyncUsageErrors(t *testing.T) {
	f := newTestFleet(t, "sync-errors")
	f.addProduct("alpha", "se-alpha", "1.0.0", "info", nil)
	unreachable := unreachableKubeconfig(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"without --once", []string{"sync", "--site", "sync-errors", "--repo-dir", f.dir, "--kubeconfig", unreachable}, "--once"},
		{"missing site", []string{"sync", "--once", "--repo-dir", f.dir, "--kubeconfig", unreachable}, "--site"},
		{"missing repo", []string{"sync", "--once", "--site", "sync-errors", "--kubeconfig", unreachable}, "--repo"},
		{"unknown site", []string{"sync", "--once", "--site", "no-such-site-9", "--repo-dir", f.dir, "--kubeconfig", unreachable}, "no-such-site-9"},
		{"unreachable cluster", []string{"sync", "--once", "--site", "sync-errors", "--repo-dir", f.dir, "--kubeconfig", unreachable, "--health-timeout", "1s"}, "127.0.0.1:1"},
		{"bad health timeout", []string{"sync", "--once", "--site", "sync-errors", "--repo-dir", f.dir, "--health-timeout", "soon"}, "health-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runSyncd(t, tc.args...)
			if res.code != ExitError {
				t.Fatalf("exit %d, want %d: %v", res.code, ExitError, res)
			}
			if !strings.Contains(res.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", res.stderr, tc.want)
			}
			if strings.Contains(res.stdout, "PRODUCT") {
				t.Errorf("a sync that applied nothing printed a summary:\n%s", res.stdout)
			}
		})
	}
}

// TestSyncAndStatusSayWhyVersionIsNotTheChannels: a site running another
// version than its channel names says why, in sync's summary and in status.
func TestSyncAndStatusSayWhyVersionIsNotTheChannels(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	const site = "recall-site"
	f := newTestFleet(t, site)
	f.addProduct("auth", "rc-auth", "5.1.1", "info", nil)
	f.addRelease("auth", "rc-auth", "5.2.0", "debug", nil)
	f.write("products/auth/releases/5.2.0/release.yaml", `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata: {name: auth-5.2.0}
spec:
  recalled: true
  reason: "token cache leaks memory under load; canary aws-us-east-1-prod OOMKilled"
`)
	f.write("channels/auth.yaml", channelsYAML("auth", "5.2.0"))
	const want = "channel prod says 5.2.0 (recalled: token cache leaks memory…); running 5.1.1"

	res := runSyncd(t, "sync", "--once", "--site", site, "--repo-dir", f.dir, "--kubeconfig", c.Kubeconfig, "--health-timeout", "20s")
	if res.code != ExitOK {
		t.Fatalf("sync --once: %v", res)
	}
	if row := parseSummary(t, res.stdout)["auth"]; row.version != "5.1.1" || row.note != want {
		t.Errorf("auth row = %+v, want version 5.1.1 and note %q", row, want)
	}
	st := runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig)
	if st.code != ExitOK || !strings.Contains(st.stdout, want) {
		t.Errorf("syncd status: %v\nwant the note %q", st, want)
	}
	st = runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig, "-o", "json")
	if st.code != ExitOK || !strings.Contains(st.stdout, want) {
		t.Errorf("syncd status -o json: %v\nwant the note %q", st, want)
	}
}

func TestResultNote(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    reconcile.Result
		want string
	}{
		{"nothing to say", reconcile.Result{}, ""},
		{"error wins", reconcile.Result{Err: errors.New("rendering: bad\nmore"), Note: "n", Held: 2}, "error: rendering: bad"},
		{"held fields", reconcile.Result{Held: 2}, "2 field(s) held by open conflicts (syncd conflicts list)"},
		{"note and held fields", reconcile.Result{Note: "2.0.0 held back: frozen", Held: 1}, "2.0.0 held back: frozen; 1 field(s) held by open conflicts (syncd conflicts list)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultNote(tc.r); got != tc.want {
				t.Errorf("resultNote = %q, want %q", got, tc.want)
			}
		})
	}
}
