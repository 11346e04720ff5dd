package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// verifyFleet writes a fleet with one site whose product web holds the
// ConfigMap web-config (data level) and, with extra, the ConfigMap
// web-extra; without extra its file is removed, so that the commit prunes
// it.
func verifyFleet(t *testing.T, dir, site, level string, extra bool) {
	t.Helper()
	resources := "resources: [ns.yaml, cm.yaml]\n"
	extraFile := filepath.Join(dir, "products/web/releases/1.0.0/extra.yaml")
	if extra {
		resources = "resources: [ns.yaml, cm.yaml, extra.yaml]\n"
	} else if err := os.Remove(extraFile); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := map[string]string{
		"fleet.yaml":                                     "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec: {channels: [prod]}\n",
		"sites/" + site + "/site.yaml":                   "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: " + site + "}\nspec: {channel: prod, conflictStrategy: git_wins}\n",
		"products/web/product.yaml":                      "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: web}\nspec: {targets: \"true\", namespace: " + site + "}\n",
		"channels/web.yaml":                              "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {prod: 1.0.0}\n",
		"products/web/releases/1.0.0/kustomization.yaml": resources,
		"products/web/releases/1.0.0/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + site + "}\n",
		"products/web/releases/1.0.0/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {level: " + level + "}\n",
	}
	if extra {
		files["products/web/releases/1.0.0/extra.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-extra}\ndata: {k: v}\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// metricValue scrapes url (/metrics) for the first series of metric name
// (syncd's metrics carry the constant label site); ok is false when it is
// absent or the scrape fails.
func metricValue(url, name string) (float64, bool) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			f, err := strconv.ParseFloat(rest[i+1:], 64)
			return f, err == nil
		}
	}
	return 0, false
}

// within polls cond every 50ms for up to limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunVerifyCommitsHoldsUnverifiedHeads runs `syncd run --verify-commits`
// as a process against a real sshd Git server and API server, with commits
// signed by real git: a signed head is applied; a head that is unsigned or
// signed by a key not in allowed_signers (SSH or OpenPGP) is held —
// not applied and nothing pruned — and the site status, the published
// report, a log line and syncd_commit_verification_held say so and why;
// drift of the applied revision is still corrected while held; the next
// head, signed by an allowed OpenPGP key, is applied, pruning included.
func TestRunVerifyCommitsHoldsUnverifiedHeads(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	srv := testenv.NewGitServer(t)
	bin := buildSyncd(t)
	ctx := context.Background()
	const site = "verifying"

	keys := t.TempDir()
	release, err := testenv.WriteKeyPair(filepath.Join(keys, "release"), "release@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := testenv.WriteKeyPair(filepath.Join(keys, "intruder"), "intruder@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(keys, "allowed_signers")
	// The release manager signs with SSH; the CI bot with OpenPGP, its
	// public key block (gpg --armor --export) beside the SSH line.
	bot, botPublic := testenv.OpenPGPKey(t, "ci-bot@example.test")
	if err := os.WriteFile(allowed, []byte("release@example.test "+release.AuthorizedKey+"\n"+botPublic), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		t.Fatal(err)
	}
	url := srv.URL("fleet.git")
	work := t.TempDir()
	testenv.Git(t, work, "init", "--quiet", "--initial-branch=main")
	push := func() {
		t.Helper()
		if _, err := testenv.RunGit(work, []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}, "push", "--quiet", url, "main"); err != nil {
			t.Fatal(err)
		}
	}
	verifyFleet(t, work, site, "info", true)
	good := testenv.CommitAll(t, work, release.PrivatePath, "web at info, with web-extra")
	push()

	addr := freeAddr(t)
	metricsURL := "http://" + addr + "/metrics"
	logPath := filepath.Join(t.TempDir(), "syncd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "run", "--site", site, "--repo", url, "--identity", srv.DeployKey.PrivatePath,
		"--known-hosts", srv.KnownHosts, "--kubeconfig", c.Kubeconfig, "--cache-dir", t.TempDir(),
		"--listen", addr, "--interval", "500ms", "--health-timeout", "0s", "--verify-commits", allowed)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("syncd log:\n%s", out)
		}
	})

	configMap := func(name string) (*corev1.ConfigMap, bool) {
		var cm corev1.ConfigMap
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: site, Name: name}, &cm)
		if apierrors.IsNotFound(err) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return &cm, true
	}
	levelIs := func(want string) func() bool {
		return func() bool { cm, ok := configMap("web-config"); return ok && cm.Data["level"] == want }
	}
	siteStatus := func() *status.SiteStatus {
		st, err := status.NewStore(c.Client, "syncd-system", site).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	bare := srv.RepoPath("fleet.git")
	report := func() string {
		out, _ := testenv.RunGit(bare, nil, "show", status.Branch(site)+":"+status.ReportFile)
		return out
	}
	held := func() float64 { v, _ := metricValue(metricsURL, "syncd_commit_verification_held"); return v }

	within(t, 60*time.Second, "the signed head applied", levelIs("info"))
	within(t, 30*time.Second, "status: the signed head verified", func() bool {
		st := siteStatus()
		return st != nil && st.Revision == good && st.Commits != nil && !st.Commits.Held() && st.Commits.Verified == good &&
			strings.Contains(st.Commits.Signer, "release@example.test")
	})
	if v, ok := metricValue(metricsURL, "syncd_commit_verification_held"); !ok || v != 0 {
		t.Fatalf("syncd_commit_verification_held = %v (present %v) after a verified head, want 0", v, ok)
	}

	// Heads that do not verify change the level and drop web-extra: applied,
	// they would show at once.
	for i, tc := range []struct {
		name, reason string
		commit       func(msg string) string
	}{
		{"unsigned", "is not signed", func(msg string) string { return testenv.CommitAll(t, work, "", msg) }},
		{"signed by an unknown key", "which is not an allowed signer", func(msg string) string {
			return testenv.CommitAll(t, work, intruder.PrivatePath, msg)
		}},
		{"signed with OpenPGP by an unknown key", "which is not an allowed signer", func(msg string) string {
			return testenv.CommitAllOpenPGP(t, work, msg, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verifyFleet(t, work, site, "warn-"+strconv.Itoa(i), false)
			head := tc.commit(tc.name + ": web at warn, without web-extra")
			push()
			within(t, 30*time.Second, "status: head "+head+" held", func() bool {
				st := siteStatus()
				return st != nil && st.Commits != nil && st.Commits.Head == head
			})
			st := siteStatus()
			if !st.Commits.Held() || st.Commits.Verified != good || st.Revision != good || !strings.Contains(st.Commits.Refused, tc.reason) {
				t.Fatalf("status commits %+v revision %s, want head %s held at %s because %q", st.Commits, st.Revision, head, good, tc.reason)
			}
			within(t, 30*time.Second, "the published report names the held head and why", func() bool {
				r := report()
				return strings.Contains(r, head) && strings.Contains(r, tc.reason)
			})
			within(t, 10*time.Second, "syncd_commit_verification_held = 1", func() bool { return held() == 1 })
			logged, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(logged), "fleet repo head not applied") || !strings.Contains(string(logged), head) {
				t.Fatalf("no log line says head %s is not applied:\n%s", head, logged)
			}
			// Nothing of the held head reached the cluster.
			if !levelIs("info")() {
				t.Fatal("the held head's web-config was applied")
			}
			if _, ok := configMap("web-extra"); !ok {
				t.Fatal("web-extra pruned by a held head")
			}

			// Drift of the applied revision is still corrected.
			cm, _ := configMap("web-config")
			cm.Data["level"] = "debug"
			if err := c.Client.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
				t.Fatal(err)
			}
			within(t, 30*time.Second, "drift corrected while held", levelIs("info"))
			if v := held(); v != 1 {
				t.Fatalf("syncd_commit_verification_held = %v after the drift correction, want 1", v)
			}
		})
	}

	// The next signed head, signed by the allowed OpenPGP key, is applied:
	// its level, web-extra pruned.
	verifyFleet(t, work, site, "warn", false)
	next := testenv.CommitAllOpenPGP(t, work, "web at warn, without web-extra, signed by the CI bot", bot)
	push()
	within(t, 30*time.Second, "the next signed head applied", levelIs("warn"))
	within(t, 30*time.Second, "web-extra pruned", func() bool { _, ok := configMap("web-extra"); return !ok })
	within(t, 30*time.Second, "status: the next signed head verified", func() bool {
		st := siteStatus()
		return st != nil && st.Revision == next && st.Commits != nil && !st.Commits.Held() && st.Commits.Verified == next &&
			strings.Contains(st.Commits.Signer, "ci-bot@example.test (OPENPGP:")
	})
	within(t, 10*time.Second, "syncd_commit_verification_held = 0", func() bool { return held() == 0 })
	within(t, 30*time.Second, "the published report is back to verified", func() bool {
		r := report()
		return strings.Contains(r, next) && !strings.Contains(r, "refused")
	})
}
