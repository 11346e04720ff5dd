package apply

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	return u
}

func names(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetKind() + "/" + o.GetName()
	}
	return out
}

func TestStagesAndKindGroups(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("apps/v1", "Deployment", "web"),
		obj("v1", "ConfigMap", "b"),
		obj("v1", "Namespace", "ns"),
		obj("storage.k8s.io/v1", "StorageClass", "fast"),
		obj("v1", "ConfigMap", "a"),
		obj("v1", "ServiceAccount", "sa"),
	}
	var got [][]string
	var waits []bool
	for _, st := range stages(objs) {
		got = append(got, names(st.objects))
		waits = append(waits, st.wait)
	}
	want := [][]string{{"Namespace/ns"}, {"StorageClass/fast"}, {"Deployment/web", "ConfigMap/b", "ConfigMap/a", "ServiceAccount/sa"}}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(waits, []bool{true, true, false}) {
		t.Errorf("stages = %v (wait %v), want %v (wait true, true, false)", got, waits, want)
	}

	var groups [][]string
	for _, g := range kindGroups(stages(objs)[2].objects) {
		groups = append(groups, names(g))
	}
	wantGroups := [][]string{{"ServiceAccount/sa"}, {"ConfigMap/a", "ConfigMap/b"}, {"Deployment/web"}}
	if !reflect.DeepEqual(groups, wantGroups) {
		t.Errorf("kindGroups = %v, want %v (ssa's order, one group per kind)", groups, wantGroups)
	}
	if len(stages(nil)) != 0 || len(kindGroups(nil)) != 0 {
		t.Errorf("no objects must give no stage and no group")
	}
}
