package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// closedWindow returns a daily one-hour maintenance window that opens twelve
// hours from now (so it is closed now) and when it next opens.
func closedWindow(now time.Time) (schedule string, opens time.Time) {
	now = now.UTC()
	h := (now.Hour() + 12) % 24
	opens = time.Date(now.Year(), now.Month(), now.Day(), h, 0, 0, 0, time.UTC)
	if !opens.After(now) {
		opens = opens.AddDate(0, 0, 1)
	}
	return fmt.Sprintf("0 %d * * *", h), opens
}

// TestHeldChangesInSyncStatusAndDiff: with a site freeze, a fleet freeze
// and a closed maintenance window, a new version is held back. `sync --once`
// succeeds (exit 0), keeps the version applied last, corrects a live edit
// to it and says what waits and why; `status` says the same; `diff` lists
// the held change without counting it as a difference (exit 0), and shows
// the live edit as drift from what was applied last (exit 1). Lifting the
// hold applies the version.
func TestHeldChangesInSyncStatusAndDiff(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const site, ns = "held-site", "held-web"
	f := newTestFleet(t, site)
	f.addProduct("web", ns, "1.0.0", "info", nil)
	defaultFleet, err := readFile(f, "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defaultSite, err := readFile(f, "sites/"+site+"/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, f.dir, "init", "--quiet", "--initial-branch=main")
	commit := func(msg string) {
		t.Helper()
		testenv.Git(t, f.dir, "add", "-A")
		testenv.Git(t, f.dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	}
	commit("web 1.0.0")
	common := []string{"--site", site, "--repo", "file://" + f.dir, "--cache-dir", t.TempDir(), "--kubeconfig", c.Kubeconfig}
	run := func(args ...string) syncdResult {
		t.Helper()
		return runSyncd(t, append(args, common...)...)
	}
	syncOnce := func() syncdResult {
		t.Helper()
		return run("sync", "--once", "--health-timeout", "20s", "--publish-status=false")
	}
	liveLevel := func() string {
		t.Helper()
		var cm corev1.ConfigMap
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm); err != nil {
			t.Fatalf("ConfigMap web-config: %v", err)
		}
		return cm.Data["level"]
	}

	if res := syncOnce(); res.code != ExitOK || parseSummary(t, res.stdout)["web"].version != "1.0.0" {
		t.Fatalf("first sync: %v", res)
	}
	// 2.0.0 sets level debug.
	f.addRelease("web", ns, "2.0.0", "debug", nil)
	f.write("channels/web.yaml", channelsYAML("web", "2.0.0"))

	until := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	schedule, opens := closedWindow(time.Now())
	siteWith := func(extra string) string {
		return strings.TrimSuffix(defaultSite, "spec: {channel: prod}\n") + "spec:\n  channel: prod\n" + extra
	}
	for _, tc := range []struct {
		name, fleet, site, note string
	}{
		{"SiteFreeze", defaultFleet, siteWith("  freeze: true\n"),
			"2.0.0 held back: frozen: site " + site + " has freeze: true"},
		{"FleetFreeze", defaultFleet + "  freeze: {reason: year-end change freeze, until: " + until + "}\n", defaultSite,
			"2.0.0 held back: frozen: year-end change freeze (until " + until + ")"},
		{"ClosedWindow", defaultFleet, siteWith("  maintenanceWindows: [{schedule: \"" + schedule + "\", duration: 1h}]\n"),
			"2.0.0 held back: waiting for maintenance window, opens " + opens.Format(time.RFC3339)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.write("fleet.yaml", tc.fleet)
			f.write("sites/"+site+"/site.yaml", tc.site)
			commit(tc.name)

			// Nothing differs but the held change, which is not a difference.
			res := run("diff")
			if res.code != ExitOK || !strings.Contains(res.stdout, "web: "+tc.note+"\n") {
				t.Fatalf("diff with only a held change: %v\nwant exit 0 and %q", res, "web: "+tc.note)
			}

			// A live edit is drift from what was applied last (1.0.0).
			var cm corev1.ConfigMap
			if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-config"}, &cm); err != nil {
				t.Fatal(err)
			}
			cm.Data["level"] = "edited"
			if err := c.Client.Update(ctx, &cm, client.FieldOwner("kubectl-edit")); err != nil {
				t.Fatal(err)
			}
			res = run("diff")
			if res.code != ExitDiff || !strings.Contains(res.stdout, "web: "+tc.note+"\n") ||
				!strings.Contains(res.stdout, "web-config: configured") || !strings.Contains(res.stdout, "edited") ||
				strings.Contains(res.stdout, "debug") {
				t.Fatalf("diff with a live edit while 2.0.0 waits: %v\nwant exit 1, the held change and the edit back to info", res)
			}

			res = syncOnce()
			if res.code != ExitOK {
				t.Fatalf("sync --once holding a change: %v, want exit 0", res)
			}
			wantRows(t, res, map[string]summaryRow{
				"web": {version: "1.0.0", created: "0", configured: "1", unchanged: "1", pruned: "0", health: "HEALTHY", note: tc.note},
			})
			if row := parseSummary(t, res.stdout)["web"]; row.note != tc.note {
				t.Errorf("note = %q, want %q", row.note, tc.note)
			}
			if lvl := liveLevel(); lvl != "info" {
				t.Errorf("level = %q after the sync, want the live edit corrected to 1.0.0's info", lvl)
			}

			st := runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig)
			if st.code != ExitOK || !strings.Contains(st.stdout, tc.note) {
				t.Errorf("status: %v\nwant the note %q", st, tc.note)
			}
			st = runSyncd(t, "status", "--site", site, "--kubeconfig", c.Kubeconfig, "-o", "json")
			var got status.SiteStatus
			if err := json.Unmarshal([]byte(st.stdout), &got); st.code != ExitOK || err != nil || len(got.Products) != 1 ||
				got.Products[0].Version != "1.0.0" || got.Products[0].Note != tc.note {
				t.Errorf("status -o json: %v (%v)\nwant web at 1.0.0 with note %q", st, err, tc.note)
			}
		})
	}

	// The hold lifted, the next sync applies 2.0.0 and says nothing waits.
	f.write("fleet.yaml", defaultFleet)
	f.write("sites/"+site+"/site.yaml", defaultSite)
	commit("lift")
	res := syncOnce()
	if res.code != ExitOK {
		t.Fatalf("sync after the hold: %v", res)
	}
	if row := parseSummary(t, res.stdout)["web"]; row.version != "2.0.0" || row.note != "" {
		t.Errorf("web after the hold = %+v, want 2.0.0 without a note", row)
	}
	if lvl := liveLevel(); lvl != "debug" {
		t.Errorf("level = %q, want 2.0.0's debug", lvl)
	}
	if res := run("diff"); res.code != ExitOK || strings.Contains(res.stdout, "held back") {
		t.Errorf("diff after the sync: %v, want exit 0 and nothing held", res)
	}
}

// readFile returns the content of the fleet file name.
func readFile(f *testFleet, name string) (string, error) {
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	return string(data), err
}
