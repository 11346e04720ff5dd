package reconcile

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// levels groups plan indexes into stages applied one after the other, the
// products of a stage concurrently: every product comes after the products
// it depends on, and after the products that create what its objects need
// — the Namespace they live in, the CRD of their kind — so that a product
// that puts objects in a namespace another product creates does not race
// it. Only explicit dependencies hold a product back when they fail; the
// implicit ones only order. When the implicit ones form a cycle (two
// products each creating the other's namespace), they are left out.
func levels(products []*ProductPlan) [][]int {
	explicit := make([][]int, len(products))
	index := make(map[string]int, len(products))
	for i, pp := range products {
		index[pp.Name] = i
	}
	for i, pp := range products {
		for _, dep := range pp.Dependencies {
			if j, ok := index[dep.Product]; ok && j != i {
				explicit[i] = append(explicit[i], j)
			}
		}
	}
	all := make([][]int, len(products))
	provides := providers(products)
	for i, pp := range products {
		all[i] = append(all[i], explicit[i]...)
		seen := map[int]bool{i: true}
		for _, o := range pp.Objects {
			for _, need := range needs(o) {
				if j, ok := provides[need]; ok && !seen[j] {
					seen[j] = true
					all[i] = append(all[i], j)
				}
			}
		}
	}
	depth, ok := depths(all)
	if !ok {
		depth, _ = depths(explicit) // explicit dependencies are acyclic (fleet validation)
	}
	var out [][]int
	for i := range products {
		for len(out) <= depth[i] {
			out = append(out, nil)
		}
		out[depth[i]] = append(out[depth[i]], i)
	}
	return out
}

// depths returns each node's depth in the graph after (node -> the nodes
// it comes after): 0 without predecessors, else one more than the deepest
// predecessor. ok is false when the graph has a cycle.
func depths(after [][]int) (depth []int, ok bool) {
	depth = make([]int, len(after))
	for range len(after) + 1 {
		changed := false
		for i, preds := range after {
			for _, j := range preds {
				if depth[j]+1 > depth[i] {
					depth[i], changed = depth[j]+1, true
				}
			}
		}
		if !changed {
			return depth, true
		}
	}
	return depth, false
}

// providers indexes what the products create that other objects need: a
// Namespace by "ns/<name>", a CRD by "kind/<group>/<Kind>". The first
// product in plan order that renders one provides it.
func providers(products []*ProductPlan) map[string]int {
	out := map[string]int{}
	for i, pp := range products {
		for _, o := range pp.Objects {
			var key string
			switch o.GroupVersionKind().GroupKind().String() {
			case "Namespace":
				key = "ns/" + o.GetName()
			case "CustomResourceDefinition.apiextensions.k8s.io":
				group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				key = "kind/" + group + "/" + kind
			default:
				continue
			}
			if _, ok := out[key]; !ok {
				out[key] = i
			}
		}
	}
	return out
}

// needs names what o needs to exist before it is applied, as providers
// keys: its namespace and its kind.
func needs(o *unstructured.Unstructured) []string {
	gvk := o.GroupVersionKind()
	out := []string{"kind/" + gvk.Group + "/" + gvk.Kind}
	if ns := o.GetNamespace(); ns != "" {
		out = append(out, "ns/"+ns)
	}
	return out
}
