package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/fleetdiff"
	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/render"
)

// newFleetCommand groups the fleet-wide views given as subcommands.
func newFleetCommand(subcommands ...*cobra.Command) *cobra.Command {
	c := group(&cobra.Command{Use: "fleet", Short: "Fleet-wide views"})
	c.AddCommand(subcommands...)
	return c
}

func newFleetDiffCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var (
		output   string
		showDiff bool
	)
	cmd := &cobra.Command{
		Use:   "diff BASE HEAD [--repo-dir DIR | --repo URL] [-o table|markdown|json] [--diff]",
		Short: "What a change of the fleet repo does at every site, offline (exit 0 none, 1 changes, 2 error)",
		Long: `Render every site of the fleet repo at two revisions, BASE and HEAD, and print
what changes at each site and product: versions, products newly targeted or
dropped, and the objects a sync would create, change or delete (with --diff, a
unified field diff of each changed object; Secret values are masked). Sites
where nothing changes are counted, not listed. Nothing is fetched from a
cluster: this is the blast radius of a pull request, for review and CI.

With --repo-dir (default: the current directory), BASE and HEAD are revisions
of the Git checkout holding DIR (a branch, origin/main, a tag, HEAD~1, a commit
hash); DIR may be a directory inside the checkout. With --repo, the branches
BASE and HEAD (or full commit hashes on the tracked --branch) are fetched over
SSH.

-o markdown prints a pull-request comment: a table of the changes and one
collapsed section per site.

Problems at HEAD (a broken file, a release that does not render) are listed
and make the exit code 2. Exit code: 0 nothing changes, 1 something changes,
2 error.`,
		Example: `  syncd fleet diff origin/main HEAD
  syncd fleet diff main my-change --repo-dir examples/fleet-repo --diff
  syncd fleet diff origin/main HEAD -o markdown > comment.md`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if !validFormat(output) {
				return withCode(ExitError, fmt.Errorf("-o %q: want one of %s", output, strings.Join(fleetdiff.Formats, ", ")))
			}
			base, head, err := f.openRevisions(cmd.Context(), s, args[0], args[1])
			if err != nil {
				return withCode(ExitError, err)
			}
			cache := render.NewCache()
			var revs [2]*fleetplan.Revision
			for i, snap := range []*gitsource.Snapshot{base, head} {
				if revs[i], err = fleetplan.Plan(cmd.Context(), snap, fleetplan.Options{Revision: snap.SHA(), Cache: cache}); err != nil {
					return withCode(ExitError, err)
				}
			}
			report, err := fleetdiff.Compare(revs[0], revs[1], fleetdiff.Options{
				Diffs:    showDiff,
				BaseName: revisionName(args[0], base.SHA()),
				HeadName: revisionName(args[1], head.SHA()),
			})
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := fleetdiff.Write(s.out, report, output); err != nil {
				return withCode(ExitError, err)
			}
			switch {
			case len(report.Problems) > 0:
				return withCode(ExitError, fmt.Errorf("%s has %d problem(s):\n  %s", args[1], len(report.Problems), strings.Join(report.Problems, "\n  ")))
			case report.Changed():
				return withCode(ExitDiff, nil)
			}
			return nil
		},
	}
	f.addGit(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", fleetdiff.FormatTable, "output format: "+strings.Join(fleetdiff.Formats, ", "))
	cmd.Flags().BoolVar(&showDiff, "diff", false, "show a unified field diff of each changed object")
	return cmd
}

func validFormat(format string) bool {
	for _, f := range fleetdiff.Formats {
		if f == format {
			return true
		}
	}
	return false
}

// revisionName labels a revision for people: what they typed and the commit.
func revisionName(rev, sha string) string {
	if strings.HasPrefix(sha, rev) {
		return shortSHA(sha)
	}
	return fmt.Sprintf("%s (%s)", rev, shortSHA(sha))
}

// openRevisions reads the revisions base and head of the fleet repo, from
// the Git checkout holding --repo-dir or fetched from --repo.
func (f *commonFlags) openRevisions(ctx context.Context, s *streams, base, head string) (*gitsource.Snapshot, *gitsource.Snapshot, error) {
	switch {
	case f.repoDir != "" && f.repo != "":
		return nil, nil, fmt.Errorf("--repo and --repo-dir are exclusive")
	case f.repo != "":
		src, err := f.gitSource(hclog.NewNullLogger())
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(s.err, "fetching %s\n", f.repo)
		snaps, err := src.FetchRevisions(ctx, base, head)
		if err != nil {
			return nil, nil, err
		}
		return snaps[0], snaps[1], nil
	}
	dir := f.repoDir
	if dir == "" {
		dir = "."
	}
	local, err := gitsource.OpenLocal(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("--repo-dir: %w", err)
	}
	snaps := make([]*gitsource.Snapshot, 2)
	for i, rev := range []string{base, head} {
		if snaps[i], err = local.Snapshot(ctx, rev); err != nil {
			return nil, nil, err
		}
	}
	return snaps[0], snaps[1], nil
}
