package cli

import "github.com/spf13/cobra"

// Commands whose behaviour later issues fill in. Each lives here until it gets
// a file of its own.

func newPromoteCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "promote", Short: "Evaluate pipelines, commit and push channel bumps", RunE: notImplemented("promote")}
}

func newFleetCommand(*streams) *cobra.Command {
	c := &cobra.Command{Use: "fleet", Short: "Fleet-wide views"}
	c.AddCommand(&cobra.Command{Use: "status", Short: "Products x sites table from the status branches", RunE: notImplemented("fleet status")})
	return c
}
