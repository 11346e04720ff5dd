package conflict

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// storeT0 is a whole second: the API server keeps times to the second.
var storeT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// storeEnv is a Store on a real API server with a clock the test moves.
type storeEnv struct {
	client client.Client
	store  *Store
	clock  time.Time
}

// newStoreEnv returns a Store over namespace ns of cluster, creating ns.
func newStoreEnv(t *testing.T, cl client.Client, ns string) *storeEnv {
	t.Helper()
	if err := cl.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
	e := &storeEnv{client: cl, store: NewStore(cl, ns), clock: storeT0}
	e.store.now = func() time.Time { return e.clock }
	return e
}

// storeSample is a manual conflict on replicas of site's Deployment name.
func storeSample(site, name string) *Conflict {
	return &Conflict{
		Spec: Spec{
			Site: site, Product: "shop",
			Object:    ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: name},
			Field:     "/spec/replicas",
			FieldPath: ".spec.replicas",
			Manager:   "kubectl-edit",
			Strategy:  "manual",
		},
		Status: Status{GitValue: "3", LiveValue: "5"},
	}
}

func mustRecord(t *testing.T, s *Store, c *Conflict) *Conflict {
	t.Helper()
	got, err := s.Record(context.Background(), c)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	return got
}

func mustGet(t *testing.T, s *Store, id string) *Conflict {
	t.Helper()
	got, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

func TestStoreAgainstAPIServer(t *testing.T) {
	cluster := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	cl, err := client.New(cluster.Config, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	installer := NewStore(cl, "unused")
	for i := range 2 {
		if err := installer.Install(ctx); err != nil {
			t.Fatalf("Install #%d: %v", i+1, err)
		}
	}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	if err := cl.Get(ctx, client.ObjectKey{Name: "conflicts.syncd.dev"}, crd); err != nil {
		t.Fatal(err)
	}
	if !crdEstablished(crd) {
		t.Fatal("CRD not Established after Install")
	}
	if mf := crd.GetManagedFields(); len(mf) == 0 || mf[0].Manager != FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("CRD managed fields = %+v, want an Apply by %q", mf, FieldManager)
	}

	t.Run("RecordTwiceKeepsOneObject", func(t *testing.T) {
		e := newStoreEnv(t, cl, "record-twice")
		first := mustRecord(t, e.store, storeSample("eu-1", "web"))
		wantID := ID("eu-1", storeSample("eu-1", "web").Spec.Object, "/spec/replicas")
		if first.Name != wantID || first.Status.State != Open || !first.Status.FirstSeen.Equal(&metav1.Time{Time: storeT0}) || !first.Status.LastSeen.Equal(&metav1.Time{Time: storeT0}) {
			t.Fatalf("first Record = %s %+v, want %s Open first=last=%v", first.Name, first.Status, wantID, storeT0)
		}
		if first.Labels["syncd.dev/site"] != "eu-1" || first.Labels["syncd.dev/product"] != "shop" {
			t.Errorf("labels = %v, want site eu-1 and product shop", first.Labels)
		}

		e.clock = storeT0.Add(time.Hour)
		again := storeSample("eu-1", "web")
		again.Status.LiveValue = "7"
		again.Spec.Manager = "hpa-controller"
		mustRecord(t, e.store, again)

		all, err := e.store.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 {
			t.Fatalf("List = %d conflicts, want 1 (no duplicate)", len(all))
		}
		got := all[0]
		if !got.Status.FirstSeen.Time.Equal(storeT0) || !got.Status.LastSeen.Time.Equal(storeT0.Add(time.Hour)) {
			t.Errorf("FirstSeen, LastSeen = %v, %v; want %v, %v", got.Status.FirstSeen, got.Status.LastSeen, storeT0, storeT0.Add(time.Hour))
		}
		if got.Status.LiveValue != "7" || got.Spec.Manager != "hpa-controller" {
			t.Errorf("live value %q manager %q, want 7 and hpa-controller", got.Status.LiveValue, got.Spec.Manager)
		}

		// A restarted syncd (new client and Store) finds the same object.
		cl2, err := client.New(cluster.Config, client.Options{Scheme: Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		mustRecord(t, NewStore(cl2, "record-twice"), storeSample("eu-1", "web"))
		if all, _ := e.store.List(ctx, ""); len(all) != 1 {
			t.Errorf("after a restart List = %d conflicts, want 1", len(all))
		}
	})

	t.Run("RecordCompletesObjectCreatedWithoutStatus", func(t *testing.T) {
		// syncd stopped between the create and the status update.
		e := newStoreEnv(t, cl, "half-created")
		c := storeSample("eu-1", "web")
		c.Name, c.Namespace = ID(c.Spec.Site, c.Spec.Object, c.Spec.Field), "half-created"
		if err := cl.Create(ctx, c.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		got := mustRecord(t, e.store, storeSample("eu-1", "web"))
		if got.Status.State != Open || !got.Status.FirstSeen.Time.Equal(storeT0) || got.Status.GitValue != "3" {
			t.Errorf("status = %+v, want Open, first seen %v, git value 3", got.Status, storeT0)
		}
	})

	t.Run("ResolveRecordsWhoWhenAndGitValue", func(t *testing.T) {
		e := newStoreEnv(t, cl, "resolve")
		id := mustRecord(t, e.store, storeSample("eu-1", "web")).Name

		e.clock = storeT0.Add(2 * time.Minute)
		got, err := e.store.Resolve(ctx, id, KeepGit, "alice")
		if err != nil {
			t.Fatal(err)
		}
		want := Resolution{Keep: "git", By: "alice", At: metav1.NewTime(storeT0.Add(2 * time.Minute)), GitValue: "3"}
		for name, c := range map[string]*Conflict{"returned": got, "stored": mustGet(t, e.store, id)} {
			r := c.Spec.Resolution
			if r == nil || r.Keep != want.Keep || r.By != want.By || !r.At.Equal(&want.At) || r.GitValue != want.GitValue {
				t.Errorf("%s resolution = %+v, want %+v", name, r, want)
			}
		}

		// Recording the conflict again keeps the resolution.
		mustRecord(t, e.store, storeSample("eu-1", "web"))
		if r := mustGet(t, e.store, id).Spec.Resolution; r == nil || r.By != "alice" {
			t.Errorf("resolution after Record = %+v, want alice's", r)
		}

		// A later resolution replaces it, whatever the state.
		if err := e.store.SetState(ctx, id, Resolved, "applied"); err != nil {
			t.Fatal(err)
		}
		if got, err := e.store.Resolve(ctx, id, KeepServer, "bob"); err != nil || got.Spec.Resolution.Keep != "server" || got.Spec.Resolution.By != "bob" {
			t.Errorf("second Resolve = %+v, %v; want keep server by bob", got, err)
		}
	})

	t.Run("ResolveRejects", func(t *testing.T) {
		e := newStoreEnv(t, cl, "resolve-rejects")
		id := mustRecord(t, e.store, storeSample("eu-1", "web")).Name
		if _, err := e.store.Resolve(ctx, id, "both", "alice"); err == nil || !strings.Contains(err.Error(), `"git" or "server"`) {
			t.Errorf("Resolve keep=both: %v, want an error naming git and server", err)
		}
		if _, err := e.store.Resolve(ctx, id, KeepGit, ""); err == nil {
			t.Error("Resolve without a user succeeded")
		}
		if _, err := e.store.Resolve(ctx, "no-such-conflict", KeepGit, "alice"); !apierrors.IsNotFound(err) {
			t.Errorf("Resolve of a missing conflict: %v, want NotFound", err)
		}
		if r := mustGet(t, e.store, id).Spec.Resolution; r != nil {
			t.Errorf("rejected Resolve stored %+v", r)
		}
	})

	t.Run("SupersededReopensResolvedStays", func(t *testing.T) {
		e := newStoreEnv(t, cl, "states")
		id := mustRecord(t, e.store, storeSample("eu-1", "web")).Name

		e.clock = storeT0.Add(time.Minute)
		if err := e.store.SetState(ctx, id, Superseded, "Git now matches the live value"); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, e.store, id)
		if got.Status.State != Superseded || got.Status.Message != "Git now matches the live value" || !got.Status.LastSeen.Time.Equal(storeT0.Add(time.Minute)) {
			t.Errorf("after SetState: %+v", got.Status)
		}

		e.clock = storeT0.Add(2 * time.Minute)
		if got := mustRecord(t, e.store, storeSample("eu-1", "web")); got.Status.State != Open || !got.Status.FirstSeen.Time.Equal(storeT0) || got.Status.Message != "" {
			t.Errorf("Record of a superseded conflict: %+v, want Open with the first FirstSeen and no message", got.Status)
		}

		if err := e.store.SetState(ctx, id, Resolved, "kept git"); err != nil {
			t.Fatal(err)
		}
		if got := mustRecord(t, e.store, storeSample("eu-1", "web")); got.Status.State != Resolved {
			t.Errorf("Record of a resolved conflict re-opened it: %+v", got.Status)
		}

		if err := e.store.SetState(ctx, id, "Closed", ""); err == nil {
			t.Error("SetState accepted an unknown state")
		}
		if err := e.store.SetState(ctx, "no-such-conflict", Open, ""); !apierrors.IsNotFound(err) {
			t.Errorf("SetState of a missing conflict: %v, want NotFound", err)
		}
	})

	t.Run("ListFiltersBySiteAndSorts", func(t *testing.T) {
		e := newStoreEnv(t, cl, "list")
		for _, c := range []*Conflict{storeSample("eu-1", "web"), storeSample("us-1", "web"), storeSample("eu-1", "api")} {
			mustRecord(t, e.store, c)
		}
		tests := []struct {
			site  string
			names []string
		}{
			{"", []string{"api:eu-1", "web:eu-1", "web:us-1"}},
			{"eu-1", []string{"api:eu-1", "web:eu-1"}},
			{"us-1", []string{"web:us-1"}},
			{"ap-1", nil},
		}
		for _, tt := range tests {
			got, err := e.store.List(ctx, tt.site)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for i, c := range got {
				names = append(names, c.Spec.Object.Name+":"+c.Spec.Site)
				if i > 0 && got[i-1].Name >= c.Name {
					t.Errorf("List(%q) not sorted by ID: %s before %s", tt.site, got[i-1].Name, c.Name)
				}
			}
			// Membership here; the order (by ID) is checked above.
			slices.Sort(names)
			if !slices.Equal(names, tt.names) {
				t.Errorf("List(%q) = %v, want %v", tt.site, names, tt.names)
			}
		}
	})

	t.Run("PruneDeletesOnlyOldSupersededAndResolved", func(t *testing.T) {
		e := newStoreEnv(t, cl, "prune")
		old, recent := storeT0, storeT0.Add(47*time.Hour)
		cases := []struct {
			name  string
			seen  time.Time
			state State
			kept  bool
		}{
			{"old-superseded", old, Superseded, false},
			{"old-resolved", old, Resolved, false},
			{"old-open", old, Open, true},
			{"recent-superseded", recent, Superseded, true},
			{"recent-resolved", recent, Resolved, true},
		}
		ids := map[string]string{}
		for _, c := range cases {
			e.clock = c.seen
			ids[c.name] = mustRecord(t, e.store, storeSample("eu-1", c.name)).Name
			if err := e.store.SetState(ctx, ids[c.name], c.state, "test"); err != nil {
				t.Fatal(err)
			}
		}
		e.clock = storeT0.Add(48 * time.Hour)
		n, err := e.store.Prune(ctx, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("Prune = %d, want 2", n)
		}
		for _, c := range cases {
			_, err := e.store.Get(ctx, ids[c.name])
			if gone := apierrors.IsNotFound(err); gone == c.kept || (err != nil && !gone) {
				t.Errorf("%s: Get after Prune: %v (want kept=%v)", c.name, err, c.kept)
			}
		}
		if n, err := e.store.Prune(ctx, 24*time.Hour); n != 0 || err != nil {
			t.Errorf("second Prune = %d, %v; want 0", n, err)
		}
	})

	t.Run("GetMissingIsNotFound", func(t *testing.T) {
		e := newStoreEnv(t, cl, "get-missing")
		_, err := e.store.Get(ctx, "deployment-web-0000000000")
		if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "deployment-web-0000000000") {
			t.Errorf("Get of a missing conflict: %v, want a NotFound naming it", err)
		}
	})
}
