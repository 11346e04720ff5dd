package daemon

import (
	"reflect"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

func TestTrimmed(t *testing.T) {
	edit := metav1.NewTime(time.Unix(2000, 0))
	full := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"data": map[string]any{"k": "v"},
		}}
		u.SetName("web")
		u.SetNamespace("a")
		u.SetUID("uid-1")
		u.SetResourceVersion("7")
		u.SetLabels(map[string]string{"syncd.dev/site": "s"})
		u.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"k":"v"}}`})
		u.SetManagedFields([]metav1.ManagedFieldsEntry{
			{Manager: "syncd", Operation: metav1.ManagedFieldsOperationApply, Time: &edit, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{"f:k":{}}}`)}},
			{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: &edit, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}},
		})
		return u
	}
	u := full()
	got := trimmed(u)
	if !reflect.DeepEqual(u, full()) {
		t.Fatal("trimmed modified its argument")
	}
	if id, want := object.UnstructuredToObjMetadata(got), object.UnstructuredToObjMetadata(u); id != want {
		t.Errorf("identity = %v, want %v", id, want)
	}
	if got.GetUID() != "uid-1" || got.GetResourceVersion() != "7" || got.GetKind() != "ConfigMap" {
		t.Errorf("uid, resourceVersion, kind = %q, %q, %q", got.GetUID(), got.GetResourceVersion(), got.GetKind())
	}
	for _, field := range []string{"data", "status", "spec"} {
		if _, ok := got.Object[field]; ok {
			t.Errorf("trimmed object keeps %s", field)
		}
	}
	if got.GetAnnotations() != nil || got.GetLabels() != nil {
		t.Errorf("trimmed object keeps labels %v or annotations %v", got.GetLabels(), got.GetAnnotations())
	}
	mfs := got.GetManagedFields()
	if len(mfs) != 2 || mfs[1].Manager != "kubectl-edit" || mfs[1].Time == nil || !mfs[1].Time.Equal(&edit) {
		t.Fatalf("managedFields = %+v, want both entries with manager and time", mfs)
	}
	for _, mf := range mfs {
		if mf.FieldsV1 != nil {
			t.Errorf("managedFields entry of %s keeps fieldsV1", mf.Manager)
		}
	}
	if changedByOthers(got) != changedByOthers(u) {
		t.Errorf("changedByOthers(trimmed) = %v, of the whole object %v", changedByOthers(got), changedByOthers(u))
	}
	if again := trimmed(got); !reflect.DeepEqual(again, got) {
		t.Errorf("trimming a trimmed object changed it: %v, was %v", again.Object, got.Object)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "a/web", Obj: u}
	if out, err := trimForWatch(tomb); err != nil || !reflect.DeepEqual(out, tomb) {
		t.Errorf("trimForWatch(tombstone) = %v, %v; want it unchanged", out, err)
	}
}
