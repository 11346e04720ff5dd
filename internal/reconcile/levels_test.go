package reconcile

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
)

func TestLevels(t *testing.T) {
	ns := func(name string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	}
	cm := func(namespace string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "namespace": namespace}}}
	}
	crd := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec":     map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}}}}
	widget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w"}}}
	product := func(name string, deps []string, objs ...*unstructured.Unstructured) *ProductPlan {
		pp := &ProductPlan{Name: name, Objects: objs}
		for _, d := range deps {
			pp.Dependencies = append(pp.Dependencies, fleet.Dependency{Product: d})
		}
		return pp
	}
	tests := []struct {
		name     string
		products []*ProductPlan
		want     [][]int
	}{
		{"independent products share a stage",
			[]*ProductPlan{product("a", nil, cm("a")), product("b", nil, cm("b"))}, [][]int{{0, 1}}},
		{"explicit dependency",
			[]*ProductPlan{product("db", nil), product("web", []string{"db"})}, [][]int{{0}, {1}}},
		{"objects wait for the product that creates their namespace, wherever it is in the plan",
			[]*ProductPlan{product("p1", nil, cm("bench")), product("p2", nil, cm("bench")), product("p0", nil, ns("bench"), cm("bench"))},
			[][]int{{2}, {0, 1}}},
		{"custom objects wait for the product that installs their CRD",
			[]*ProductPlan{product("app", nil, widget), product("operator", nil, crd)}, [][]int{{1}, {0}}},
		{"implicit and explicit together",
			[]*ProductPlan{product("base", nil, ns("x")), product("mid", []string{"base"}, crd), product("top", nil, widget, cm("x"))},
			[][]int{{0}, {1}, {2}}},
		{"an implicit cycle is left out",
			[]*ProductPlan{product("a", nil, ns("a"), cm("b")), product("b", nil, ns("b"), cm("a"))}, [][]int{{0, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := levels(tt.products); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("levels = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDepthsFindsCycles(t *testing.T) {
	for _, tt := range []struct {
		after [][]int
		want  []int
		ok    bool
	}{
		{[][]int{nil, {0}, {1}}, []int{0, 1, 2}, true},
		{[][]int{{2}, {0}, nil}, []int{1, 2, 0}, true},
		{[][]int{{1}, {0}}, nil, false},
	} {
		got, ok := depths(tt.after)
		if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("depths(%v) = %v, %v; want %v, %v", tt.after, got, ok, tt.want, tt.ok)
		}
	}
}
