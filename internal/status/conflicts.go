package status

import "github.com/syncd-dev/syncd/internal/conflict"

// OpenConflicts counts the conflicts waiting for an admin per product, for
// Update. A conflict without a state is one syncd has not finished recording:
// it counts as open too.
func OpenConflicts(conflicts []conflict.Conflict) map[string]int {
	out := map[string]int{}
	for _, c := range conflicts {
		if c.Status.State == conflict.Open || c.Status.State == "" {
			out[c.Spec.Product]++
		}
	}
	return out
}
