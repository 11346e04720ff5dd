package health

import (
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func deployment(name string, generation, observed, replicas, ready int64, conditions ...map[string]any) *unstructured.Unstructured {
	conds := make([]any, len(conditions))
	for i, c := range conditions {
		conds[i] = c
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "ns", "generation": generation},
		"spec":     map[string]any{"replicas": replicas},
		"status": map[string]any{
			"observedGeneration": observed, "replicas": replicas, "updatedReplicas": ready,
			"readyReplicas": ready, "availableReplicas": ready, "conditions": conds,
		},
	}}
}

func TestOf(t *testing.T) {
	available := map[string]any{"type": "Available", "status": "True"}
	progressing := map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
	stuck := map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "ns"}}}
	tests := []struct {
		name    string
		desired []*unstructured.Unstructured
		live    []*unstructured.Unstructured
		want    State
	}{
		{"nothing to check", nil, nil, Unknown},
		{"all current", []*unstructured.Unstructured{cm, deployment("d", 1, 0, 2, 0)},
			[]*unstructured.Unstructured{cm, deployment("d", 1, 1, 2, 2, available, progressing)}, Healthy},
		{"rolling out", []*unstructured.Unstructured{cm, deployment("d", 1, 0, 2, 0)},
			[]*unstructured.Unstructured{cm, deployment("d", 2, 1, 2, 1, progressing)}, Progressing},
		{"not in the cluster yet", []*unstructured.Unstructured{cm}, nil, Unknown},
		{"missing object and rolling out", []*unstructured.Unstructured{cm, deployment("d", 1, 0, 2, 0)},
			[]*unstructured.Unstructured{deployment("d", 2, 1, 2, 1, progressing)}, Progressing},
		{"failed wins", []*unstructured.Unstructured{deployment("d", 1, 0, 2, 0), deployment("e", 1, 0, 2, 0)},
			[]*unstructured.Unstructured{deployment("d", 1, 1, 2, 0, stuck), deployment("e", 2, 1, 2, 1, progressing)}, Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			index := map[object.ObjMetadata]*unstructured.Unstructured{}
			for _, o := range tt.live {
				index[object.UnstructuredToObjMetadata(o)] = o
			}
			got := Of(tt.desired, func(id object.ObjMetadata) *unstructured.Unstructured { return index[id] })
			if got.State != tt.want {
				t.Fatalf("Of = %s %v, want %s", got.State, got.Reasons, tt.want)
			}
			if got.State != Healthy && got.State != Unknown && len(got.Reasons) == 0 {
				t.Fatal("a non-healthy report names no object")
			}
		})
	}
}
