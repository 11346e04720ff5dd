package status

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestStoreAgainstAPIServer(t *testing.T) {
	cluster := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := context.Background()
	const ns = "syncd-system"
	store := NewStore(cluster.Client, ns, "eu-1")
	getCM := func(t *testing.T) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "syncd-status-eu-1"}, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}
	save := func(t *testing.T, s *Store, st *SiteStatus, want bool) {
		t.Helper()
		wrote, err := s.Save(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if wrote != want {
			t.Fatalf("Save wrote = %v, want %v", wrote, want)
		}
	}

	t.Run("LoadWithoutStatus", func(t *testing.T) {
		st, err := store.Load(ctx)
		if st != nil || err != nil {
			t.Fatalf("Load = %+v, %v; want nil, nil", st, err)
		}
	})

	st := sampleStatus(t1)
	t.Run("SaveCreatesNamespaceAndConfigMap", func(t *testing.T) {
		save(t, store, st, true)
		cm := getCM(t)
		if cm.Labels[LabelSite] != "eu-1" || cm.Labels[LabelStatus] != "true" {
			t.Errorf("labels = %v", cm.Labels)
		}
		var stored SiteStatus
		if err := yaml.Unmarshal([]byte(cm.Data[DataKey]), &stored); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&stored, st) {
			t.Errorf("stored %+v, want %+v", stored, *st)
		}
		if len(cm.ManagedFields) != 1 || cm.ManagedFields[0].Manager != "syncd" || cm.ManagedFields[0].Operation != "Apply" {
			t.Errorf("managed fields = %+v; want one server-side apply by syncd", cm.ManagedFields)
		}
	})

	t.Run("SaveSkipsWhenOnlyUpdatedAtChanged", func(t *testing.T) {
		rv := getCM(t).ResourceVersion
		save(t, store, sampleStatus(t1.Add(time.Minute)), false)
		if getCM(t).ResourceVersion != rv {
			t.Fatal("the ConfigMap was written")
		}
		// After the heartbeat it is written again, so the age shows syncd is alive.
		save(t, store, sampleStatus(t1.Add(DefaultHeartbeat)), true)
		changed := sampleStatus(t1.Add(DefaultHeartbeat + time.Minute))
		changed.Products[1].Health = health.Progressing
		save(t, store, changed, true)
		save(t, store, changed, false)
		st = changed
	})

	t.Run("RestartLoadsWithANewClient", func(t *testing.T) {
		c, err := client.New(cluster.Config, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		restarted := NewStore(c, ns, "eu-1")
		got, err := restarted.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("Load = %+v\nwant %+v", got, st)
		}
		// What it loaded counts as saved.
		same := *st
		same.UpdatedAt = st.UpdatedAt.Add(time.Minute)
		save(t, restarted, &same, false)
		// A store that has not loaded writes.
		save(t, NewStore(c, ns, "eu-1"), &same, true)
	})

	t.Run("Sites", func(t *testing.T) {
		save(t, NewStore(cluster.Client, ns, "us-2"), &SiteStatus{Site: "us-2", UpdatedAt: t1}, true)
		other := &corev1.ConfigMap{}
		other.Name, other.Namespace, other.Labels = "unrelated", ns, map[string]string{LabelSite: "zz"}
		if err := cluster.Client.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		sites, err := Sites(ctx, cluster.Client, ns)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(sites, ",") != "eu-1,us-2" {
			t.Fatalf("Sites = %v, want [eu-1 us-2]", sites)
		}
		if sites, err := Sites(ctx, cluster.Client, "elsewhere"); err != nil || len(sites) != 0 {
			t.Fatalf("Sites(elsewhere) = %v, %v", sites, err)
		}
	})

	t.Run("SaveRefusesAnotherSite", func(t *testing.T) {
		if _, err := store.Save(ctx, &SiteStatus{Site: "us-2"}); err == nil || !strings.Contains(err.Error(), `store of site "eu-1"`) {
			t.Fatalf("Save = %v", err)
		}
	})
}
