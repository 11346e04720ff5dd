package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/tracing/tracingtest"
)

// Secret values used by TestNothingSecretLeaks: each is searched for raw and
// base64-encoded in everything the daemon emits.
const (
	// In Git: a Secret's data (written base64-encoded) and stringData.
	leakData       = "data-value-7f3a91c2e5"
	leakStringData = "string-data-value-4b8d06"
	// In Git: the Secret under a manual conflict rule.
	leakManualGit = "manual-git-value-93ce1a"
	// Written by someone else over Git's values: the live sides of the
	// git_wins and manual conflicts.
	leakLiveForced = "live-forced-value-2d7e4f"
	leakLiveManual = "live-manual-value-c05b88"
	// In Git: a Secret the API server refuses, and that its error message
	// echoes (an unquoted number and a map where strings belong).
	leakNumber = "734910582736"
	leakNested = "nested-value-e61f0b"
	// The webhook's shared secret.
	leakWebhook = "webhook-secret-5a0c7d19"
)

// Secret values, deploy key, signing key and webhook secret never reach a log
// line, an Event, a span (attributes, events, status), the status report
// committed to Git, a Conflict, /metrics or /readyz: a run with a Secret
// conflict of each strategy, a Secret the API server refuses, signed status
// commits pushed over SSH, a webhook and traces exported, after which all of
// it is searched for every value, raw and base64-encoded, and for the lines of
// both private keys.
func TestNothingSecretLeaks(t *testing.T) {
	recv := tracingtest.NewReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL)
	tp, err := tracing.New(context.Background(), os.Getenv, "test")
	if err != nil || !tp.Config.Enabled {
		t.Fatalf("tracing.New = %+v, %v; want enabled", tp, err)
	}
	defer func() { _ = tp.Shutdown(context.Background()) }()

	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cl := newClient(t, c)
	srv := testenv.NewGitServer(t)
	const site = "dm-redact"
	seed := t.TempDir()
	writeSecretFleet(t, seed, site)
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", seed)
	signing, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "signing"), "site", "")
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{JSONFormat: true, Level: hclog.Trace, Output: &logs})
	gs, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath, KnownHostsFile: srv.KnownHosts,
		CacheDir: t.TempDir(), Timeout: 10 * time.Second, SigningKey: signing.PrivatePath, Logger: log.Named("git")})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := New(cl, dyn, cl.RESTMapper(), GitSource{Source: gs}, Config{Site: site, Namespace: "syncd-system", Interval: 500 * time.Millisecond,
		Publisher: status.NewPublisher(gs, site, log.Named("status")), Tracer: tp, Log: log})
	h := httptest.NewServer(d.Handler(leakWebhook))
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	defer stop()

	secret := func(name string) *corev1.Secret {
		var s corev1.Secret
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: site, Name: name}, &s); err != nil {
			return nil
		}
		return &s
	}
	eventually(t, 60*time.Second, "the Secrets applied", func() bool {
		f, m := secret("app-creds"), secret("app-manual")
		return f != nil && string(f.Data["password"]) == leakData && string(f.Data["token"]) == leakStringData &&
			m != nil && string(m.Data["api-key"]) == leakManualGit
	})
	bare := srv.RepoPath("fleet.git")
	report := func() string {
		out, _ := testenv.RunGit(bare, nil, "show", status.Branch(site)+":"+status.ReportFile)
		return out
	}
	eventually(t, 60*time.Second, "the Secret apply error in the published report", func() bool {
		return strings.Contains(report(), "dry-run failed")
	})

	// Someone else writes both Secrets: git_wins takes app-creds back (an
	// Event names both values), manual holds app-manual (a Conflict).
	edit := func(name, key, value string) {
		t.Helper()
		s := secret(name)
		s.Data[key] = []byte(value)
		if err := cl.Update(context.Background(), s, client.FieldOwner("kubectl-edit")); err != nil {
			t.Fatal(err)
		}
	}
	edit("app-creds", "password", leakLiveForced)
	edit("app-manual", "api-key", leakLiveManual)
	store := conflict.NewStore(cl, "syncd-system")
	eventually(t, 30*time.Second, "app-creds taken back and app-manual's conflict open", func() bool {
		list, err := store.List(context.Background(), site)
		return err == nil && len(list) == 1 && list[0].Status.State == conflict.Open &&
			string(secret("app-creds").Data["password"]) == leakData
	})
	events := func() []corev1.Event {
		var l corev1.EventList
		if err := cl.List(context.Background(), &l, client.InNamespace(site)); err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	eventually(t, 30*time.Second, "ConflictGitWins, ConflictManual and ApplyFailed Events", func() bool {
		reasons := map[string]bool{}
		for _, e := range events() {
			reasons[e.Reason] = true
		}
		return reasons["ConflictGitWins"] && reasons["ConflictManual"] && reasons["ApplyFailed"]
	})

	// A webhook signed with the secret, and one that is not.
	var responses strings.Builder
	for _, sig := range []string{sign(leakWebhook, `{}`), sign("not-"+leakWebhook, `{}`), "sha256=" + leakWebhook} {
		req, _ := http.NewRequest("POST", h.URL+"/hooks/git", strings.NewReader(`{}`))
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&responses, "%d %s\n", resp.StatusCode, body)
	}
	for _, path := range []string{"/metrics", "/readyz"} {
		resp, err := http.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&responses, "%s:\n%s\n", path, body)
	}
	// The conflict counted in a report published after it.
	eventually(t, 60*time.Second, "the open conflict in the published report", func() bool {
		return strings.Contains(report(), "conflicts: 1")
	})

	stop()
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var evs []byte
	if evs, err = json.Marshal(events()); err != nil {
		t.Fatal(err)
	}
	list, err := store.List(context.Background(), site)
	if err != nil {
		t.Fatal(err)
	}
	conflicts, _ := json.Marshal(list)
	st, err := status.NewStore(cl, "syncd-system", site).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(st)
	var spans strings.Builder
	for _, raw := range recv.Raw() {
		spans.Write(raw)
	}
	for _, s := range recv.Spans() {
		fmt.Fprintf(&spans, "%+v\n", s)
	}
	emitted := map[string]string{
		"logs":                logs.String(),
		"Events":              string(evs),
		"trace spans":         spans.String(),
		"status report (Git)": testenv.Git(t, bare, "show", "--format=fuller", status.Branch(site)) + report(),
		"status (cluster)":    string(stored),
		"Conflicts":           string(conflicts),
		"HTTP responses":      responses.String(),
	}
	if !strings.Contains(report(), "Secret/"+site+"/app-broken") {
		t.Errorf("the report does not name the refused Secret:\n%s", report())
	}
	if leaks := findLeaks(emitted, secretNeedles(t, srv.DeployKey.PrivatePath, signing.PrivatePath)); len(leaks) > 0 {
		t.Errorf("secret values found in what syncd emitted:\n%s", strings.Join(leaks, "\n"))
	}
}

// secretNeedles is every form of the test's secret values that must not be
// emitted: raw and base64-encoded values, and each line of the bodies of the
// private keys in keyFiles.
func secretNeedles(t *testing.T, keyFiles ...string) map[string]string {
	t.Helper()
	needles := map[string]string{}
	for _, v := range []string{leakData, leakStringData, leakManualGit, leakLiveForced, leakLiveManual, leakNumber, leakNested, leakWebhook} {
		needles[v] = "value " + v
		needles[base64.StdEncoding.EncodeToString([]byte(v))] = "value " + v + " base64-encoded"
	}
	for _, f := range keyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				needles[line] = fmt.Sprintf("line %d of private key %s", i+1, filepath.Base(f))
			}
		}
	}
	return needles
}

// findLeaks lists each needle found in each of emitted, by name.
func findLeaks(emitted, needles map[string]string) []string {
	var leaks []string
	for where, text := range emitted {
		for needle, what := range needles {
			if i := strings.Index(text, needle); i >= 0 {
				from, to := max(i-80, 0), min(i+len(needle)+40, len(text))
				leaks = append(leaks, fmt.Sprintf("%s: %s in %q", where, what, text[from:to]))
			}
		}
	}
	return leaks
}

// writeSecretFleet writes a fleet whose product vault ships two Secrets
// (app-manual under a manual conflict rule, the site git_wins) and whose
// product broken ships a Secret the API server refuses.
func writeSecretFleet(t *testing.T, dir, site string) {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	files := map[string]string{
		"fleet.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec: {channels: [prod]}\n",
		"sites/" + site + "/site.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: " + site + ", labels: {class: prod}}\n" +
			"spec:\n  channel: prod\n  conflictStrategy: git_wins\n  conflictRules: [{kind: Secret, name: app-manual, strategy: manual}]\n",
		"products/vault/product.yaml":                      "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: vault}\nspec: {targets: \"true\", namespace: " + site + "}\n",
		"channels/vault.yaml":                              "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: vault}\nspec: {prod: 1.0.0}\n",
		"products/vault/releases/1.0.0/kustomization.yaml": "resources: [ns.yaml, secrets.yaml]\n",
		"products/vault/releases/1.0.0/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + site + "}\n",
		"products/vault/releases/1.0.0/secrets.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: app-creds}\n" +
			"data: {password: " + b64(leakData) + "}\nstringData: {token: " + leakStringData + "}\n---\n" +
			"apiVersion: v1\nkind: Secret\nmetadata: {name: app-manual}\ndata: {api-key: " + b64(leakManualGit) + "}\n",
		"products/broken/product.yaml":                      "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: broken}\nspec: {targets: \"true\", namespace: " + site + "}\n",
		"channels/broken.yaml":                              "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: broken}\nspec: {prod: 1.0.0}\n",
		"products/broken/releases/1.0.0/kustomization.yaml": "resources: [secret.yaml]\n",
		"products/broken/releases/1.0.0/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: app-broken}\n" +
			"stringData: {pin: " + leakNumber + ", nested: {inner: " + leakNested + "}}\n",
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
