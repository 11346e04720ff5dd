package fleet

import (
	"fmt"
	"slices"
	"strings"
)

// DependencyOrder returns products ordered so that every product comes
// after the products it depends on; products that do not depend on each
// other are in name order. Dependencies on products outside the list are
// ignored. It returns an error naming the cycle when there is one, or
// naming a product that is not in Repo.Products.
func (r *Repo) DependencyOrder(products []string) ([]string, error) {
	graph := make(map[string][]string, len(products))
	for _, name := range products {
		p, ok := r.Products[name]
		if !ok {
			return nil, fmt.Errorf("no product %q without problems in the fleet repo", name)
		}
		graph[name] = nil
		for _, dep := range p.Spec.Dependencies {
			if slices.Contains(products, dep.Product) {
				graph[name] = append(graph[name], dep.Product)
			}
		}
	}
	order := topoSort(graph)
	if len(order) < len(graph) {
		for _, name := range sortedKeys(graph) {
			if cycle := findCycle(graph, name); cycle != nil {
				return nil, fmt.Errorf("dependency cycle: %s", strings.Join(cycle, " -> "))
			}
		}
	}
	return order, nil
}

// topoSort orders the nodes of graph (node -> the nodes it depends on)
// dependencies first, taking the smallest ready name at each step. Nodes on
// or behind a cycle are left out.
func topoSort(graph map[string][]string) []string {
	pending := make(map[string]int, len(graph)) // node -> unsatisfied dependencies
	dependents := make(map[string][]string, len(graph))
	var ready []string
	for node, deps := range graph {
		pending[node] = len(deps)
		for _, dep := range deps {
			dependents[dep] = append(dependents[dep], node)
		}
		if len(deps) == 0 {
			ready = append(ready, node)
		}
	}
	order := make([]string, 0, len(graph))
	for len(ready) > 0 {
		slices.Sort(ready)
		node := ready[0]
		ready = ready[1:]
		order = append(order, node)
		for _, d := range dependents[node] {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	return order
}

// findCycle returns a dependency cycle through start, as start -> ... ->
// start, or nil when start is on no cycle.
func findCycle(graph map[string][]string, start string) []string {
	visited := map[string]bool{start: true}
	var stack []string
	var visit func(node string) bool
	visit = func(node string) bool {
		stack = append(stack, node)
		for _, dep := range graph[node] {
			if dep == start {
				return true
			}
			if !visited[dep] {
				visited[dep] = true
				if visit(dep) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		return false
	}
	if visit(start) {
		return append(stack, start)
	}
	return nil
}

// dependencyGraph maps each product to the products it depends on. A
// dependency on itself is left out: it is reported on its own.
func dependencyGraph(products map[string]*Product) map[string][]string {
	graph := make(map[string][]string, len(products))
	for name, p := range products {
		for _, dep := range p.Spec.Dependencies {
			if _, ok := products[dep.Product]; ok && dep.Product != name {
				graph[name] = append(graph[name], dep.Product)
			}
		}
	}
	return graph
}
