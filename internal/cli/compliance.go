package cli

import (
	"fmt"
	"io"

	"github.com/syncd-dev/syncd/internal/status"
)

// writeCompliance prints a site's policy violations, one per line, and its
// compliance score; nothing when the fleet has no policy.
func writeCompliance(w io.Writer, c *status.Compliance) {
	if c == nil {
		return
	}
	for _, v := range c.Violations {
		fmt.Fprintf(w, "%s\n", v)
	}
	if c.Score == nil {
		fmt.Fprintln(w, "compliance: no policy applies to this site")
		return
	}
	fmt.Fprintf(w, "compliance: %d%% (%d of %d policies met, %d violation(s))\n", *c.Score, c.Met, c.Applicable, len(c.Violations))
}
