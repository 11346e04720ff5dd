package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// conflictsResult is what one run of the command line produced.
type conflictsResult struct {
	code        int
	out, errOut string
}

// runConflictsCLI runs `syncd args...` in-process.
func runConflictsCLI(t *testing.T, args ...string) conflictsResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return conflictsResult{code: code, out: out.String(), errOut: errOut.String()}
}

// testConflict is a manual conflict on field of site's Deployment shop/name.
func testConflict(site, name, field, git, live string) *conflict.Conflict {
	return &conflict.Conflict{
		Spec: conflict.Spec{
			Site: site, Product: "shop",
			Object:    conflict.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name},
			Field:     field,
			FieldPath: strings.ReplaceAll(field, "/", "."),
			Manager:   "kubectl-edit",
			Strategy:  "manual",
		},
		Status: conflict.Status{GitValue: git, LiveValue: live},
	}
}

func TestPrintConflictTable(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(mut func(*conflict.Conflict)) conflict.Conflict {
		c := testConflict("eu-1", "web", "/spec/replicas", "3", "5")
		c.Name = "deployment-web-0123456789"
		c.Status.State = conflict.Open
		c.Status.FirstSeen = metav1.NewTime(now.Add(-90 * time.Minute))
		mut(c)
		return *c
	}
	tests := []struct {
		name string
		c    conflict.Conflict
		want []string // the row's cells
	}{
		{"namespaced", mk(func(*conflict.Conflict) {}),
			[]string{"deployment-web-0123456789", "Deployment/shop/web", "/spec/replicas", "kubectl-edit", "3", "5", "Open", "90m"}},
		{"cluster scoped and empty value", mk(func(c *conflict.Conflict) {
			c.Spec.Object = conflict.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "shop"}
			c.Spec.Field, c.Status.GitValue = "/metadata/labels/team", ""
		}), []string{"deployment-web-0123456789", "Namespace/shop", "/metadata/labels/team", "kubectl-edit", "<none>", "5", "Open", "90m"}},
		{"long value is cut", mk(func(c *conflict.Conflict) {
			c.Status.LiveValue = `{"image":"registry.example.com/shop/web:1.2.3"}`
		}), []string{"deployment-web-0123456789", "Deployment/shop/web", "/spec/replicas", "kubectl-edit", "3", `{"image":"registry.example.co...`, "Open", "90m"}},
		{"no state yet, age from creation", mk(func(c *conflict.Conflict) {
			c.Status = conflict.Status{}
			c.CreationTimestamp = metav1.NewTime(now.Add(-3 * 24 * time.Hour))
		}), []string{"deployment-web-0123456789", "Deployment/shop/web", "/spec/replicas", "kubectl-edit", "<none>", "<none>", "<none>", "3d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printConflictTable(&b, []conflict.Conflict{tt.c}, now); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("table has %d lines, want header and one row:\n%s", len(lines), b.String())
			}
			if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID OBJECT FIELD MANAGER GIT LIVE STATE AGE" {
				t.Errorf("header = %q", lines[0])
			}
			if got := strings.Fields(lines[1]); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("row = %q, want cells %q", got, tt.want)
			}
		})
	}
}

func TestCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "<none>"},
		{"5", "5"},
		{"{\n  \"a\": 1\n}", `{ "a": 1 }`},
		{strings.Repeat("x", 32), strings.Repeat("x", 32)},
		{strings.Repeat("x", 33), strings.Repeat("x", 29) + "..."},
		{strings.Repeat("é", 40), strings.Repeat("é", 29) + "..."},
	}
	for _, tt := range tests {
		if got := cell(tt.in); got != tt.want {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConflictsUsageErrors(t *testing.T) {
	// None of these reaches the cluster: the kubeconfig does not exist.
	kc := "/nonexistent/kubeconfig"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"list bad output", []string{"conflicts", "list", "-o", "wide", "--kubeconfig", kc}, `-o "wide": want one of table, yaml, json`},
		{"show bad output", []string{"conflicts", "show", "x", "-o", "table", "--kubeconfig", kc}, `-o "table": want one of yaml, json`},
		{"show without ID", []string{"conflicts", "show", "--kubeconfig", kc}, "accepts 1 arg(s), received 0"},
		{"resolve without --keep", []string{"conflicts", "resolve", "x", "--kubeconfig", kc}, `--keep must be git or server, not ""`},
		{"resolve bad --keep", []string{"conflicts", "resolve", "x", "--keep", "both", "--kubeconfig", kc}, `--keep must be git or server, not "both"`},
		{"missing kubeconfig", []string{"conflicts", "list", "--kubeconfig", kc}, "loading kubeconfig"},
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

func TestConflictsCommandsAgainstAPIServer(t *testing.T) {
	cluster := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const ns = "syncd-system"
	kc := []string{"--kubeconfig", cluster.Kubeconfig}
	cmd := func(args ...string) []string { return append(append([]string{"conflicts"}, args...), kc...) }

	// Before the CRD exists, the commands say so.
	if r := runConflictsCLI(t, cmd("list")...); r.code != ExitError || !strings.Contains(r.errOut, "conflicts.syncd.dev CRD is not installed") {
		t.Errorf("list without the CRD: exit %d, stderr %q", r.code, r.errOut)
	}

	cl, err := client.New(cluster.Config, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	store := conflict.NewStore(cl, ns)
	if err := store.Install(ctx); err != nil {
		t.Fatal(err)
	}
	// The namespace does not exist yet: listing in it is empty, not an error.
	if r := runConflictsCLI(t, cmd("list")...); r.code != ExitOK || r.out != "" || r.errOut != "No open conflicts in namespace syncd-system.\n" {
		t.Errorf("list before any conflict: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
	}
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	record := func(c *conflict.Conflict) string {
		t.Helper()
		got, err := store.Record(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return got.Name
	}
	replicas := record(testConflict("eu-1", "web", "/spec/replicas", "3", "5"))
	image := record(testConflict("eu-1", "web", "/spec/template/spec/containers/0/image", `"web:1.2"`, `"web:1.3-hotfix"`))
	usSite := record(testConflict("us-1", "api", "/spec/replicas", "2", "4"))
	secret := record(testConflict("eu-1", "creds", "/data/password", "sha256:aaaa", "sha256:bbbb"))
	if err := store.SetState(ctx, secret, conflict.Superseded, "Git now matches"); err != nil {
		t.Fatal(err)
	}

	t.Run("ListTable", func(t *testing.T) {
		r := runConflictsCLI(t, cmd("list")...)
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("want a header and 3 open conflicts, got:\n%s", r.out)
		}
		for _, want := range []string{replicas, image, usSite, "Deployment/shop/web", "/spec/replicas", "kubectl-edit", `"web:1.3-hotfix"`, "Open"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("table lacks %q:\n%s", want, r.out)
			}
		}
		if strings.Contains(r.out, secret) {
			t.Errorf("the superseded conflict is listed without --all-states:\n%s", r.out)
		}
	})

	t.Run("ListSiteAllStatesJSON", func(t *testing.T) {
		r := runConflictsCLI(t, cmd("list", "--site", "eu-1", "--all-states", "-o", "json")...)
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		var list conflict.ConflictList
		if err := json.Unmarshal([]byte(r.out), &list); err != nil {
			t.Fatalf("output is not a ConflictList: %v\n%s", err, r.out)
		}
		var ids []string
		for _, c := range list.Items {
			ids = append(ids, c.Name)
			if len(c.ManagedFields) > 0 {
				t.Errorf("%s: managed fields printed", c.Name)
			}
		}
		want := []string{replicas, image, secret}
		if list.Kind != "ConflictList" || list.APIVersion != "syncd.dev/v1alpha1" || !sameIDs(ids, want) {
			t.Errorf("got %s %s %v, want ConflictList of %v", list.APIVersion, list.Kind, ids, want)
		}
	})

	t.Run("ListEnvSiteYAMLEmpty", func(t *testing.T) {
		t.Setenv("SYNCD_SITE", "ap-1")
		r := runConflictsCLI(t, cmd("list")...)
		if r.code != ExitOK || r.out != "" || !strings.Contains(r.errOut, "No open conflicts in namespace syncd-system") {
			t.Errorf("exit %d, stdout %q, stderr %q; want nothing for site ap-1", r.code, r.out, r.errOut)
		}
		r = runConflictsCLI(t, cmd("list", "-o", "yaml")...)
		if r.code != ExitOK || !strings.Contains(r.out, "kind: ConflictList") || strings.Contains(r.out, "name: ") {
			t.Errorf("yaml for no conflicts: exit %d\n%s", r.code, r.out)
		}
	})

	t.Run("ShowYAMLAndJSON", func(t *testing.T) {
		for _, format := range []string{"yaml", "json"} {
			r := runConflictsCLI(t, cmd("show", secret, "-o", format)...)
			if r.code != ExitOK {
				t.Fatalf("-o %s: exit %d: %s", format, r.code, r.errOut)
			}
			var c conflict.Conflict
			if err := yaml.Unmarshal([]byte(r.out), &c); err != nil {
				t.Fatalf("-o %s: %v\n%s", format, err, r.out)
			}
			if c.Name != secret || c.Kind != "Conflict" || c.Status.State != conflict.Superseded ||
				c.Status.GitValue != "sha256:aaaa" || c.Status.LiveValue != "sha256:bbbb" || c.Status.Message != "Git now matches" {
				t.Errorf("-o %s: got %+v", format, c)
			}
		}
	})

	t.Run("UnknownID", func(t *testing.T) {
		for _, args := range [][]string{cmd("show", "nope"), cmd("resolve", "nope", "--keep", "git")} {
			r := runConflictsCLI(t, args...)
			if want := "error: conflict nope not found in namespace syncd-system\n"; r.code != ExitError || r.errOut != want {
				t.Errorf("%v: exit %d stderr %q, want 2 and %q", args[1], r.code, r.errOut, want)
			}
		}
	})

	t.Run("ResolveAsAdmin", func(t *testing.T) {
		r := runConflictsCLI(t, cmd("resolve", replicas, "--keep", "git")...)
		want := "conflict " + replicas + " resolved: keeping git's value for /spec/replicas of Deployment/shop/web; syncd applies it on its next reconcile\n"
		if r.code != ExitOK || r.out != want {
			t.Fatalf("exit %d, stdout %q, stderr %q; want %q", r.code, r.out, r.errOut, want)
		}
		got, err := store.Get(ctx, replicas)
		if err != nil {
			t.Fatal(err)
		}
		// envtest's admin kubeconfig authenticates as "admin" (system:masters).
		if res := got.Spec.Resolution; res == nil || res.Keep != "git" || res.By != "admin" || res.GitValue != "3" || time.Since(res.At.Time) > time.Minute {
			t.Errorf("resolution = %+v, want keep git by admin with git value 3, just now", res)
		}

		// Resolving again replaces the resolution and says so.
		r = runConflictsCLI(t, cmd("resolve", replicas, "--keep", "server")...)
		want = "conflict " + replicas + " resolved: keeping the live value (set by kubectl-edit) for /spec/replicas of Deployment/shop/web until Git's value for it changes\n"
		if r.code != ExitOK || r.out != want || !strings.Contains(r.errOut, "replaces admin's resolution") {
			t.Errorf("second resolve: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
		}
	})

	t.Run("RBAC", func(t *testing.T) {
		grant(t, cl, ns, "conflict-viewer", "alice", "get", "list")
		grant(t, cl, ns, "conflict-resolver", "bob", "get", "list", "update", "patch")
		users := map[string]string{}
		for _, name := range []string{"alice", "bob", "carol"} {
			path, err := cluster.AddUser(name, "devs")
			if err != nil {
				t.Fatal(err)
			}
			users[name] = path
		}
		waitAllowed(t, cl, ns, "alice", "list")
		waitAllowed(t, cl, ns, "bob", "update")
		as := func(user string, args ...string) conflictsResult {
			return runConflictsCLI(t, append(append([]string{"conflicts"}, args...), "--kubeconfig", users[user])...)
		}

		// carol has no RBAC on conflicts at all.
		r := as("carol", "list")
		if r.code != ExitError || !strings.Contains(r.errOut, `forbidden: you may not list conflicts.syncd.dev in namespace syncd-system (RBAC: needs verb "list"`) || !strings.Contains(r.errOut, `User "carol"`) {
			t.Errorf("carol list: exit %d, stderr %q", r.code, r.errOut)
		}

		// alice may look but not resolve.
		if r := as("alice", "show", image); r.code != ExitOK {
			t.Errorf("alice show: exit %d, stderr %q", r.code, r.errOut)
		}
		before, err := store.Get(ctx, image)
		if err != nil {
			t.Fatal(err)
		}
		r = as("alice", "resolve", image, "--keep", "git")
		if r.code != ExitError || r.out != "" ||
			!strings.Contains(r.errOut, "forbidden: you may not update conflicts.syncd.dev "+image+" in namespace syncd-system") ||
			!strings.Contains(r.errOut, `needs verb "update" on resource "conflicts" in API group "syncd.dev"`) {
			t.Errorf("alice resolve: exit %d, stdout %q, stderr %q; want exit 2 and a forbidden message naming update on conflicts", r.code, r.out, r.errOut)
		}
		after, err := store.Get(ctx, image)
		if err != nil {
			t.Fatal(err)
		}
		if after.ResourceVersion != before.ResourceVersion || after.Spec.Resolution != nil {
			t.Errorf("alice's forbidden resolve changed the conflict: resourceVersion %s -> %s, resolution %+v", before.ResourceVersion, after.ResourceVersion, after.Spec.Resolution)
		}

		// bob may.
		r = as("bob", "resolve", image, "--keep", "server")
		if r.code != ExitOK || !strings.HasPrefix(r.out, "conflict "+image+" resolved: keeping the live value") {
			t.Fatalf("bob resolve: exit %d, stdout %q, stderr %q", r.code, r.out, r.errOut)
		}
		got, err := store.Get(ctx, image)
		if err != nil {
			t.Fatal(err)
		}
		if res := got.Spec.Resolution; res == nil || res.By != "bob" || res.Keep != "server" || res.GitValue != `"web:1.2"` {
			t.Errorf("resolution = %+v, want keep server by bob", res)
		}
	})
}

// sameIDs reports whether a and b hold the same strings in any order.
func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// grant gives user the verbs on conflicts.syncd.dev in ns through a Role
// and RoleBinding named name.
func grant(t *testing.T, cl client.Client, ns, name, user string, verbs ...string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"syncd.dev"}, Resources: []string{"conflicts"}, Verbs: verbs}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := cl.Create(context.Background(), obj); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
}

// waitAllowed waits until the API server's authorizer (whose RBAC cache
// follows a watch) lets user do verb on conflicts in ns.
func waitAllowed(t *testing.T, cl client.Client, ns, user, verb string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: "syncd.dev", Resource: "conflicts"},
		}}
		if err := cl.Create(ctx, sar); err != nil {
			return false, err
		}
		return sar.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("%s never allowed to %s conflicts: %v", user, verb, err)
	}
}
