package cli

import "github.com/spf13/cobra"

// Commands whose behaviour later issues fill in. Each lives here until it gets
// a file of its own.

func newKeygenCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "keygen", Short: "Generate an ed25519 deploy key", RunE: notImplemented("keygen")}
}

func newKnownHostsCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "known-hosts HOST[:PORT]", Short: "Print a known_hosts line for a Git server", RunE: notImplemented("known-hosts")}
}

func newRunCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "run", Short: "Run the per-site reconcile daemon", RunE: notImplemented("run")}
}

func newStatusCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "status", Short: "Show this site's revision, products, health, drift and conflicts", RunE: notImplemented("status")}
}

func newConflictsCommand(*streams) *cobra.Command {
	c := &cobra.Command{Use: "conflicts", Short: "List, show and resolve Git-versus-live conflicts"}
	c.AddCommand(
		&cobra.Command{Use: "list", Short: "List conflicts", RunE: notImplemented("conflicts list")},
		&cobra.Command{Use: "show ID", Short: "Show one conflict", RunE: notImplemented("conflicts show")},
		&cobra.Command{Use: "resolve ID --keep git|server", Short: "Resolve a conflict", RunE: notImplemented("conflicts resolve")},
	)
	return c
}

func newPromoteCommand(*streams) *cobra.Command {
	return &cobra.Command{Use: "promote", Short: "Evaluate pipelines, commit and push channel bumps", RunE: notImplemented("promote")}
}

func newFleetCommand(*streams) *cobra.Command {
	c := &cobra.Command{Use: "fleet", Short: "Fleet-wide views"}
	c.AddCommand(&cobra.Command{Use: "status", Short: "Products x sites table from the status branches", RunE: notImplemented("fleet status")})
	return c
}
