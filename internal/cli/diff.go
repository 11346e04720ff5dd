package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/status"
)

func newDiffCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	cmd := &cobra.Command{
		Use:   "diff [flags]",
		Short: "Show what a sync would change (exit 0 none, 1 diff, 2 error)",
		Long: `Render the site's products and compare them with the live cluster through a
server-side apply dry run. Each object is listed as created, configured (with a
field-level diff), or deleted (would be pruned); unchanged objects are counted.
A change held back by change control (freeze, maintenance window, ramp) is
not a difference: it is listed as held back, with when it may go ahead.
Secret values are masked. Exit code: 0 no difference, 1 differences, 2 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			r, err := f.reconciler(io.Discard, 0)
			if err != nil {
				return err
			}
			plan, err := f.gatedPlan(cmd.Context(), s, r)
			if err != nil {
				return err
			}
			writeCompliance(s.err, status.NewCompliance(plan.Policy))
			changes, diffErr := r.Diff(cmd.Context(), plan)
			printWaiting(s, plan)
			if diffErr != nil && len(changes) == 0 {
				// Nothing was compared: counts of zero would mislead.
				return withCode(ExitError, diffErr)
			}
			differs := printChanges(s, changes)
			switch {
			case diffErr != nil:
				return withCode(ExitError, diffErr)
			case differs:
				return withCode(ExitDiff, nil)
			}
			return nil
		},
	}
	f.addGit(cmd.Flags())
	f.addSite(cmd.Flags())
	f.addKube(cmd.Flags())
	f.addRegistry(cmd.Flags())
	f.addVerifyCommits(cmd.Flags())
	return cmd
}

// printWaiting lists the changes change control holds back.
func printWaiting(s *streams, plan *reconcile.Plan) {
	for _, pp := range plan.Products {
		if pp.Waiting != nil {
			fmt.Fprintf(s.out, "%s: %s\n", pp.Name, pp.Waiting)
		}
	}
}

// printChanges writes every change but the unchanged ones and reports
// whether anything differs (yielded and held conflict fields do not).
func printChanges(s *streams, changes []diff.Change) bool {
	unchanged, differing := 0, 0
	for _, c := range changes {
		if c.Action == diff.Unchanged {
			unchanged++
			continue
		}
		if c.Action.Differs() {
			differing++
		}
		label := string(c.Action)
		if c.Action == diff.Deleted {
			label = "deleted (would prune)"
		}
		fmt.Fprintf(s.out, "%s %s: %s\n", c.Product, c.Object, label)
		if c.Diff != "" {
			fmt.Fprint(s.out, indent(c.Diff))
		}
	}
	fmt.Fprintf(s.err, "%d object(s) differ, %d unchanged\n", differing, unchanged)
	return differing > 0
}

// indent prefixes every line of s with four spaces.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	if !strings.HasSuffix(s, "\n") && s != "" {
		b.WriteString("\n")
	}
	return b.String()
}
