package cli

import "github.com/spf13/cobra"

// Commands whose behaviour later issues fill in. Each lives here until it gets
// a file of its own.

func newPromoteCommand(*streams) *cobra.Command {
	c := &cobra.Command{Use: "promote [--once] [--dry-run]", Short: "Evaluate pipelines, commit and push channel bumps", Args: cobra.NoArgs, RunE: notImplemented("promote")}
	c.Flags().Bool("once", false, "evaluate the pipelines once and exit")
	c.Flags().Bool("dry-run", false, "print the bumps without committing them")
	return c
}
