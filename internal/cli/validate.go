package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/render"
)

func newValidateCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	cmd := &cobra.Command{
		Use:   "validate [--repo-dir DIR]",
		Short: "Check the whole fleet repo offline and list every problem (exit 0 valid, 1 problems, 2 error)",
		Long: `Load every file of the fleet repo, evaluate every product's targets for every
site, resolve the version of every product at every site that it targets, and
render each of those releases (and the other, not recalled, releases of the
product), as the sites would. Every rendered object is checked against the
fleet.yaml policies that apply at the site: a block-severity violation is a
problem, reported at the file and line that write the object (warn-severity
ones are not). Every problem is printed at once, one per line, as

    FILE:LINE: FIELD: MESSAGE

(LINE and FIELD are left out when they do not apply). A problem found at many
sites is printed once, naming them. Nothing is fetched or applied: with
--repo-dir (default: the current directory) the files on disk are checked,
committed or not.

Exit code: 0 the repo is valid, 1 problems were found, 2 the repo could not be
read.`,
		Example: `  syncd validate --repo-dir examples/fleet-repo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if f.repoDir == "" && f.repo == "" {
				f.repoDir = "."
			}
			snap, err := f.openSnapshot(cmd.Context(), s)
			if err != nil {
				return withCode(ExitError, err)
			}
			cache := render.NewCache()
			rev, err := fleetplan.Plan(cmd.Context(), snap.fsys, fleetplan.Options{Revision: snap.revision, Cache: cache, AllReleases: true})
			if err != nil {
				return withCode(ExitError, err)
			}
			for _, p := range rev.Problems {
				fmt.Fprintln(s.out, p)
			}
			if n := len(rev.Problems); n > 0 {
				fmt.Fprintf(s.err, "%d problem(s) found\n", n)
				return withCode(ExitDiff, nil)
			}
			fmt.Fprintf(s.err, "fleet repo is valid: %d site(s), %d product(s), %d release render(s)\n",
				len(rev.Repo.Sites), len(rev.Repo.Products), cache.Builds())
			return nil
		},
	}
	f.addGit(cmd.Flags())
	return cmd
}
