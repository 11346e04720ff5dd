package daemon

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestChangedByOthers(t *testing.T) {
	at := func(s int) *metav1.Time { tm := metav1.NewTime(time.Unix(int64(1000+s), 0)); return &tm }
	tests := []struct {
		name string
		mfs  []metav1.ManagedFieldsEntry
		want bool
	}{
		{"only syncd", []metav1.ManagedFieldsEntry{{Manager: "syncd", Time: at(1)}}, false},
		{"edit after syncd", []metav1.ManagedFieldsEntry{{Manager: "syncd", Time: at(1)}, {Manager: "kubectl-edit", Time: at(2)}}, true},
		{"syncd after edit", []metav1.ManagedFieldsEntry{{Manager: "kubectl-edit", Time: at(1)}, {Manager: "syncd", Time: at(2)}}, false},
		{"same second counts as others", []metav1.ManagedFieldsEntry{{Manager: "syncd", Time: at(2)}, {Manager: "kubectl-edit", Time: at(2)}}, true},
		{"status update ignored", []metav1.ManagedFieldsEntry{{Manager: "syncd", Time: at(1)}, {Manager: "kube-controller-manager", Subresource: "status", Time: at(5)}}, false},
		{"kubectl scale after syncd", []metav1.ManagedFieldsEntry{{Manager: "syncd", Time: at(1)}, {Manager: "kubectl-scale", Subresource: "scale", Time: at(3)}}, true},
		{"syncd after an HPA scaled", []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Subresource: "scale", Time: at(1)}, {Manager: "syncd", Time: at(3)}}, false},
		{"no managed fields", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{}}
			u.SetManagedFields(tt.mfs)
			if got := changedByOthers(u); got != tt.want {
				t.Fatalf("changedByOthers = %v, want %v", got, tt.want)
			}
		})
	}
}
