package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// testSiteStatus is a status of site eu-1 saved at updated.
func testSiteStatus(site string, updated time.Time) *status.SiteStatus {
	return &status.SiteStatus{
		Site: site, Revision: "0123456789abcdef0123456789abcdef01234567", UpdatedAt: updated,
		LastError: "shop: applying Deployment/shop/web: admission webhook denied",
		Products: []status.ProductStatus{
			{Name: "db", Version: "14.2", VersionSince: updated.Add(-3 * time.Hour), Health: health.Healthy, Since: updated.Add(-3 * time.Hour), Objects: 4},
			{Name: "shop", Version: "1.2.0", VersionSince: updated.Add(-90 * time.Minute), Health: health.Error, Since: updated.Add(-10 * time.Minute),
				Transitions: []status.Transition{{From: health.Healthy, To: health.Error, At: updated.Add(-10 * time.Minute)}},
				Objects:     12, Drift: 2, Conflicts: 1, Yielded: 1, Note: "applying Deployment/shop/web:\n admission webhook denied the request because the image is not signed by the release key"},
		},
	}
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("products", func(t *testing.T) {
		var b bytes.Buffer
		if err := printStatus(&b, testSiteStatus("eu-1", now.Add(-5*time.Minute)), now); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(lines) != 5 {
			t.Fatalf("want heading, last error, table header and 2 rows:\n%s", b.String())
		}
		if lines[0] != "site eu-1 at revision 0123456789ab (updated 5m ago)" {
			t.Errorf("heading = %q", lines[0])
		}
		if lines[1] != "last error: shop: applying Deployment/shop/web: admission webhook denied" {
			t.Errorf("last error line = %q", lines[1])
		}
		if got := strings.Join(strings.Fields(lines[2]), " "); got != "PRODUCT VERSION HEALTH SINCE OBJECTS DRIFT CONFLICTS NOTE" {
			t.Errorf("header = %q", lines[2])
		}
		if got := strings.Fields(lines[3]); strings.Join(got, "|") != "db|14.2|HEALTHY|3h5m|4|0|0" {
			t.Errorf("db row = %q", got)
		}
		wantShop := "shop|1.2.0|ERROR|15m|12|2|1|applying|Deployment/shop/web:|admission|webhook|denied|the|request|because|th..."
		if got := strings.Fields(lines[4]); strings.Join(got, "|") != wantShop {
			t.Errorf("shop row = %q", got)
		}
	})
	t.Run("nothing synced yet", func(t *testing.T) {
		var b bytes.Buffer
		if err := printStatus(&b, &status.SiteStatus{Site: "eu-1", LastError: "fetching: cannot reach git.example.com:22"}, now); err != nil {
			t.Fatal(err)
		}
		want := "site eu-1 at no revision yet (updated at an unknown time)\nlast error: fetching: cannot reach git.example.com:22\nno products at this site\n"
		if b.String() != want {
			t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
		}
	})
	t.Run("synced from a directory", func(t *testing.T) {
		var b bytes.Buffer
		st := &status.SiteStatus{Site: "eu-1", UpdatedAt: now, Products: []status.ProductStatus{{Name: "web", Health: health.Healthy}}}
		if err := printStatus(&b, st, now); err != nil {
			t.Fatal(err)
		}
		if want := "site eu-1 at no Git revision (synced from a directory) (updated 0s ago)\n"; !strings.HasPrefix(b.String(), want) {
			t.Errorf("got:\n%s\nwant a first line %q", b.String(), want)
		}
	})
	t.Run("clock skew and unknown since", func(t *testing.T) {
		var b bytes.Buffer
		st := &status.SiteStatus{Site: "eu-1", Revision: "abc", UpdatedAt: now.Add(time.Minute),
			Products: []status.ProductStatus{{Name: "web", Health: health.Unknown}}}
		if err := printStatus(&b, st, now); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if lines[0] != "site eu-1 at revision abc (updated 0s ago)" || strings.Join(strings.Fields(lines[2]), " ") != "web <none> UNKNOWN <unknown> 0 0 0" {
			t.Errorf("got:\n%s", b.String())
		}
	})
}

func TestStatusUsageErrors(t *testing.T) {
	kc := "/nonexistent/kubeconfig"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad output", []string{"status", "-o", "wide", "--kubeconfig", kc}, `-o "wide": want one of table, yaml, json`},
		{"argument", []string{"status", "eu-1", "--kubeconfig", kc}, `unknown command "eu-1"`},
		{"missing kubeconfig", []string{"status", "--site", "eu-1", "--kubeconfig", kc}, "loading kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runConflictsCLI(t, tt.args...)
			if r.code != ExitError || !strings.Contains(r.errOut, tt.wantErr) || r.out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr containing %q", r.code, r.out, r.errOut, tt.wantErr)
			}
		})
	}
}

func TestStatusCommandAgainstAPIServer(t *testing.T) {
	cluster := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const ns = "syncd-system"
	kc := []string{"--kubeconfig", cluster.Kubeconfig}
	run := func(args ...string) conflictsResult {
		return runConflictsCLI(t, append(append([]string{"status"}, args...), kc...)...)
	}

	// Nothing synced yet.
	if r := run("--site", "eu-1"); r.code != ExitError || r.out != "" ||
		r.errOut != "error: no status for site eu-1 in namespace syncd-system: has syncd synced this site?\n" {
		t.Errorf("no status: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
	}
	if r := run(); r.code != ExitError || !strings.Contains(r.errOut, "no site status in namespace syncd-system") {
		t.Errorf("no status, no --site: exit %d, stderr %q", r.code, r.errOut)
	}

	updated := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Minute)
	saved := testSiteStatus("eu-1", updated)
	if _, err := status.NewStore(cluster.Client, ns, "eu-1").Save(ctx, saved); err != nil {
		t.Fatal(err)
	}

	t.Run("Table", func(t *testing.T) {
		r := run("--site", "eu-1")
		if r.code != ExitOK || r.errOut != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
		}
		for _, want := range []string{"site eu-1 at revision 0123456789ab (updated 2m", "last error: shop: applying", "PRODUCT", "HEALTHY", "ERROR", "1.2.0"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("output lacks %q:\n%s", want, r.out)
			}
		}
	})
	t.Run("OnlySiteWithoutFlag", func(t *testing.T) {
		if r := run(); r.code != ExitOK || !strings.HasPrefix(r.out, "site eu-1 at") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
		}
	})
	t.Run("YAMLAndJSON", func(t *testing.T) {
		// Without the Conflict CRD the saved counts are shown.
		r := run("--site", "eu-1", "-o", "yaml")
		var got status.SiteStatus
		if err := yaml.Unmarshal([]byte(r.out), &got); r.code != ExitOK || err != nil {
			t.Fatalf("exit %d (%s), decoding %v:\n%s", r.code, r.errOut, err, r.out)
		}
		if !reflect.DeepEqual(&got, saved) {
			t.Errorf("-o yaml:\n%+v\nwant\n%+v", got, *saved)
		}
		r = run("--site", "eu-1", "-o", "json")
		got = status.SiteStatus{}
		if err := json.Unmarshal([]byte(r.out), &got); r.code != ExitOK || err != nil {
			t.Fatalf("exit %d (%s), decoding %v:\n%s", r.code, r.errOut, err, r.out)
		}
		if !reflect.DeepEqual(&got, saved) || !strings.Contains(r.out, `"updatedAt"`) || !strings.Contains(r.out, `"lastError"`) {
			t.Errorf("-o json:\n%s", r.out)
		}
	})

	t.Run("LiveConflictCounts", func(t *testing.T) {
		cl, err := client.New(cluster.Config, client.Options{Scheme: conflict.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		store := conflict.NewStore(cl, ns)
		if err := store.Install(ctx); err != nil {
			t.Fatal(err)
		}
		// shop's conflict was resolved since the sync; db has two new ones.
		for _, c := range []*conflict.Conflict{
			testConflict("eu-1", "db", "/spec/replicas", "1", "2"),
			testConflict("eu-1", "db", "/spec/paused", "false", "true"),
			testConflict("us-1", "shop", "/spec/replicas", "1", "2"),
		} {
			c.Spec.Product = c.Spec.Object.Name
			if _, err := store.Record(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		r := run("--site", "eu-1", "-o", "json")
		var got status.SiteStatus
		if err := json.Unmarshal([]byte(r.out), &got); r.code != ExitOK || err != nil {
			t.Fatalf("exit %d (%s), decoding %v", r.code, r.errOut, err)
		}
		if got.Products[0].Conflicts != 2 || got.Products[1].Conflicts != 0 {
			t.Errorf("conflicts db %d shop %d, want 2 and 0", got.Products[0].Conflicts, got.Products[1].Conflicts)
		}
	})

	t.Run("SeveralSites", func(t *testing.T) {
		if _, err := status.NewStore(cluster.Client, ns, "us-1").Save(ctx, &status.SiteStatus{Site: "us-1", UpdatedAt: updated}); err != nil {
			t.Fatal(err)
		}
		if r := run(); r.code != ExitError || !strings.Contains(r.errOut, "several sites (eu-1, us-1): pick one with --site") {
			t.Errorf("exit %d, stderr %q", r.code, r.errOut)
		}
		t.Setenv("SYNCD_SITE", "us-1")
		if r := run(); r.code != ExitOK || !strings.HasPrefix(r.out, "site us-1 at no revision yet (updated 2m") ||
			!strings.HasSuffix(r.out, " ago)\nno products at this site\n") {
			t.Errorf("SYNCD_SITE=us-1: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
		}
	})
}
