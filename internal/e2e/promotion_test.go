package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// The fleet of the end-to-end test: one product, three channels, one site
// per channel, a timed stage dev -> staging and a canary stage staging ->
// prod, in test time.
const (
	product = "gadget"
	prodNS  = "gadget"
	syncdNS = "syncd-system"
)

var sites = []struct{ name, channel string }{
	{"e2e-dev", "dev"},
	{"e2e-staging", "staging"},
	{"e2e-prod", "prod"}, // runs the promoter: syncd run --promote
}

const fleetYAML = `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: e2e}
spec:
  channels: [dev, staging, prod]
  reports: {refresh: 2s, staleAfter: 30s}
  criteria: {healthyThreshold: 0.9, unhealthyThreshold: 0.5}
  pipelines:
  - product: "*"
    stages:
    - from: dev
      to: staging
      timed: {duration: 2s}
    - from: staging
      to: prod
      canary:
        minSites: 1
        promoteWhenHealthy: {sites: 1, soak: 6s}
        recallWhenUnhealthy: {sites: 1, soak: 2s}
`

// gadgetGroup is the API group of the releases' Gadgets (testenv.CRD):
// judged by kstatus, Stalled=True is Failed, which is ERROR.
const gadgetGroup = "e2e.example.com"

// gadgetName is the Gadget of a release: each release has its own, so that
// a Gadget an admin marked broken leaves with its release.
func gadgetName(version string) string { return "g-" + strings.ReplaceAll(version, ".", "-") }

// fleetFiles is the seed of the fleet repo: every channel on 1.0.0, releases
// 1.0.0, 1.1.0 and 1.2.0 present.
func fleetFiles() map[string]string {
	files := map[string]string{
		"fleet.yaml": fleetYAML,
		"products/" + product + "/product.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: " + product + "}\n" +
			"spec: {targets: \"true\", namespace: " + prodNS + "}\n",
		"channels/" + product + ".yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: " + product + "}\n" +
			"spec:\n  dev: 1.0.0\n  staging: 1.0.0\n  prod: 1.0.0\n",
	}
	for _, s := range sites {
		files["sites/"+s.name+"/site.yaml"] = "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: " + s.name + "}\nspec: {channel: " + s.channel + "}\n"
	}
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		rel := "products/" + product + "/releases/" + v + "/"
		files[rel+"kustomization.yaml"] = "resources: [crd.yaml, ns.yaml, version.yaml, gadget.yaml]\n"
		files[rel+"crd.yaml"] = testenv.CRD(gadgetGroup, "Gadget")
		files[rel+"ns.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + prodNS + "}\n"
		files[rel+"version.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gadget-version}\ndata: {version: \"" + v + "\"}\n"
		files[rel+"gadget.yaml"] = "apiVersion: e2e.example.com/v1\nkind: Gadget\nmetadata: {name: " + gadgetName(v) + "}\nspec: {size: 1}\n"
	}
	return files
}

// TestPromotionFlowsAndRecallRollsBack is SPEC §5 end to end: three sites,
// each a `syncd run` process against its own API server, the prod site's
// daemon also running the promoter (--promote). A release committed to dev
// reaches staging by the timed stage and prod by the canary stage, and the
// prod site applies it; a release that an admin marks broken at the canary
// (its Gadget Stalled=True) is recalled, and every site carrying it rolls
// back to the previous release.
//
// Three control planes and three daemons take about a minute on two cores;
// -short (make unit) skips the test.
func TestPromotionFlowsAndRecallRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end promotion: three control planes (not with -short)")
	}
	start := time.Now()
	srv := testenv.NewGitServer(t)
	seed := t.TempDir()
	for name, content := range fleetFiles() {
		p := filepath.Join(seed, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", seed)
	bare := srv.RepoPath("fleet.git")

	// The clusters start while syncd builds.
	clusters := make([]*testenv.Cluster, len(sites))
	var wg sync.WaitGroup
	errs := make([]error, len(sites))
	for i := range sites {
		wg.Go(func() {
			c, err := testenv.StartCluster(context.Background(), testenv.ClusterOptions{LogDir: filepath.Join(t.TempDir())})
			clusters[i], errs[i] = c, err
		})
	}
	bin := buildSyncd(t)
	wg.Wait()
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() { _ = c.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("site %s: %v", sites[i].name, errs[i])
		}
	}
	t.Logf("%d clusters up and syncd built after %s", len(sites), time.Since(start).Round(time.Second))

	logs := t.TempDir()
	if dir := os.Getenv("SYNCD_E2E_LOGS"); dir != "" {
		logs = dir // keeps the daemons' logs after the test
	}
	for i, s := range sites {
		args := []string{"run", "--site", s.name, "--kubeconfig", clusters[i].Kubeconfig,
			"--repo", url, "--identity", srv.DeployKey.PrivatePath, "--known-hosts", srv.KnownHosts,
			"--cache-dir", filepath.Join(t.TempDir(), "cache"), "--interval", "1s", "--health-timeout", "10s",
			"--listen", "127.0.0.1:0"}
		if s.channel == "prod" {
			args = append(args, "--promote")
		}
		logPath := filepath.Join(logs, s.name+".log")
		p, err := testenv.StartProcess("syncd "+s.name, bin, args, logPath, "SYNCD_LOG_LEVEL=debug")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := p.Stop(15 * time.Second); err != nil {
				t.Error(err)
			}
			if t.Failed() {
				data, _ := os.ReadFile(logPath)
				t.Logf("log of syncd %s:\n%s", s.name, tailLines(string(data), 60))
			}
		})
	}
	siteVersion := func(i int) string {
		var cm corev1.ConfigMap
		err := clusters[i].Client.Get(context.Background(), client.ObjectKey{Namespace: prodNS, Name: "gadget-version"}, &cm)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Logf("site %s: %v", sites[i].name, err)
		}
		return cm.Data["version"]
	}
	allOn := func(v string) func() bool {
		return func() bool {
			for i := range sites {
				if siteVersion(i) != v {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 4*time.Minute, "every site on 1.0.0", allOn("1.0.0"))

	// 1.1.0 lands on dev: the timed stage takes it to staging, the canary
	// stage to prod, and the prod site applies it.
	work := t.TempDir()
	gitEnv := []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}
	if _, err := testenv.RunGit(work, gitEnv, "clone", "--quiet", url, "fleet"); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(work, "fleet")
	shipToDev(t, repo, gitEnv, "1.1.0")
	phase := time.Now()
	waitFor(t, 4*time.Minute, "1.1.0 promoted to staging", func() bool { return channels(t, bare)["staging"] == "1.1.0" })
	waitFor(t, 4*time.Minute, "1.1.0 promoted to prod", func() bool { return channels(t, bare)["prod"] == "1.1.0" })
	waitFor(t, 4*time.Minute, "every site on 1.1.0", allOn("1.1.0"))
	t.Logf("1.1.0 from dev to every site in %s", time.Since(phase).Round(time.Second))
	subjects := history(t, bare)
	for _, want := range []string{"promote gadget 1.1.0: dev -> staging", "promote gadget 1.1.0: staging -> prod"} {
		if !strings.Contains(subjects, want+"\n") {
			t.Fatalf("fleet repo history lacks %q:\n%s", want, subjects)
		}
	}

	// 1.2.0 lands on dev and reaches staging; there an admin marks its
	// Gadget Stalled=True: the canary recalls it and every site carrying it
	// rolls back to 1.1.0 before it ever reaches prod.
	shipToDev(t, repo, gitEnv, "1.2.0")
	phase = time.Now()
	staging := 1
	waitFor(t, 4*time.Minute, "staging site on 1.2.0", func() bool { return siteVersion(staging) == "1.2.0" })
	testenv.SetGadgetStalled(t, clusters[staging].Client, gadgetGroup, prodNS, gadgetName("1.2.0"), "True", "the gadget broke at the canary")
	waitFor(t, 4*time.Minute, "1.2.0 recalled", func() bool {
		out, err := testenv.RunGit(bare, nil, "show", "main:products/"+product+"/releases/1.2.0/release.yaml")
		var rel struct {
			Spec struct {
				Recalled bool `yaml:"recalled"`
			} `yaml:"spec"`
		}
		return err == nil && yaml.Unmarshal([]byte(out), &rel) == nil && rel.Spec.Recalled
	})
	if ch := channels(t, bare); ch["dev"] != "1.1.0" || ch["staging"] != "1.1.0" || ch["prod"] != "1.1.0" {
		t.Fatalf("channels after the recall: %v, want every channel on 1.1.0", ch)
	}
	waitFor(t, 4*time.Minute, "every site back on 1.1.0", allOn("1.1.0"))
	t.Logf("1.2.0 from dev to recalled and rolled back in %s", time.Since(phase).Round(time.Second))
	subjects = history(t, bare)
	if !strings.Contains(subjects, "recall gadget 1.2.0: dev, staging\n") {
		t.Fatalf("fleet repo history lacks the recall commit:\n%s", subjects)
	}
	if strings.Contains(subjects, "promote gadget 1.2.0: staging -> prod") {
		t.Fatalf("1.2.0 reached prod although it broke at the canary:\n%s", subjects)
	}

	// The promoter's site records an Event per promotion and recall.
	waitFor(t, 30*time.Second, "promotion and recall Events", func() bool {
		var evs corev1.EventList
		if err := clusters[2].Client.List(context.Background(), &evs, client.InNamespace(syncdNS)); err != nil {
			t.Fatal(err)
		}
		promoted, recalled := 0, 0
		for _, ev := range evs.Items {
			if ev.InvolvedObject.Kind != "ConfigMap" || ev.InvolvedObject.Name != "syncd-status-e2e-prod" {
				continue
			}
			switch {
			case ev.Reason == "Promoted" && ev.Type == corev1.EventTypeNormal && strings.HasPrefix(ev.Message, "promoted gadget 1.1.0: "):
				promoted++
			case ev.Reason == "Recalled" && ev.Type == corev1.EventTypeWarning && strings.HasPrefix(ev.Message, "recalled gadget 1.2.0 "):
				recalled++
			}
		}
		return promoted == 2 && recalled == 1
	})
	t.Logf("end to end in %s", time.Since(start).Round(time.Second))
}

// shipToDev commits version to the dev channel as a person would, retrying
// when the promoter pushed meanwhile.
func shipToDev(t *testing.T, repo string, env []string, version string) {
	t.Helper()
	file := filepath.Join(repo, "channels", product+".yaml")
	for attempt := 0; ; attempt++ {
		for _, args := range [][]string{{"fetch", "--quiet", "origin"}, {"reset", "--quiet", "--hard", "origin/main"}} {
			if _, err := testenv.RunGit(repo, env, args...); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		edited := regexp.MustCompile(`(?m)^  dev: .*$`).ReplaceAll(data, []byte("  dev: "+version))
		if err := os.WriteFile(file, edited, 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, repo, "commit", "--quiet", "-am", "release "+version+" to dev")
		_, err = testenv.RunGit(repo, env, "push", "--quiet", "origin", "HEAD:main")
		if err == nil {
			return
		}
		if attempt == 5 {
			t.Fatalf("pushing %s to dev: %v", version, err)
		}
	}
}

// channels reads channels/<product>.yaml on main of the bare fleet repo.
func channels(t *testing.T, bare string) map[string]string {
	t.Helper()
	out := testenv.Git(t, bare, "show", "main:channels/"+product+".yaml")
	var doc struct {
		Spec map[string]string `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("channels/%s.yaml: %v\n%s", product, err, out)
	}
	return doc.Spec
}

// history is the subjects of main's history, one per line.
func history(t *testing.T, bare string) string {
	return testenv.Git(t, bare, "log", "--format=%s", "main") + "\n"
}

// waitFor polls cond every 100ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// buildSyncd builds the syncd binary.
func buildSyncd(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "syncd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/syncd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintln(strings.Join(lines, "\n"))
}
