package cli

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/dora"
	"github.com/syncd-dev/syncd/internal/fleethistory"
	"github.com/syncd-dev/syncd/internal/gitsource"
)

// defaultDoraWindow is `fleet dora`'s default --window.
const defaultDoraWindow = "30d"

// newFleetDoraCommand is `syncd fleet dora`.
func newFleetDoraCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var output, window, channel string
	cmd := &cobra.Command{
		Use:   "dora [REV] [--repo-dir DIR | --repo URL] [--window 30d] [--channel C] [-o table|json|yaml]",
		Short: "DORA metrics computed from the fleet repo's history",
		Long: `Read the fleet repo's history and print the four DORA key metrics of every
product and of the fleet: deployment frequency, lead time for changes, change
failure rate and time to restore. Deployments are counted for every channel;
the other metrics are those of the headline channel (--channel, default the
last channel of fleet.yaml spec.channels, e.g. prod).

The window ends at the committer time of the head commit (REV, default HEAD of
the checkout, or the head of --branch), so the output of one revision is the
same whenever it is computed; --window sets its length: a Go duration whose
terms may also use d (24h) and w (7d), e.g. 30d, 2w, 1w3d, 36h.

- Deployment: a commit of the head's first-parent history that changes a
  channel's version in channels/<product>.yaml (a promotion or a person's
  edit). Moving a channel off a release recalled in that commit (a recall's
  roll-back) is a roll-off, counted apart. What the oldest commit holds is
  the baseline, deployed before the history began: no deployment. Promoted
  deployments are those of a "promote <product> <version>: <from> -> <to>"
  commit of syncd promote (or of a merge whose other parent is one).
- Lead time for changes: from the earliest commit, of any branch, containing
  products/<product>/releases/<version>/ to the release's first arrival on the
  channel, when that is a deployment in the window.
- Change failure rate: of the releases deployed to the channel in the window,
  those recalled (release.yaml recalled: true) after that deployment.
- Time to restore: for each recall in the window of a release the channel
  carried, from the deployment that put it on the channel (not the baseline)
  to the recall commit (from then on sites run the newest release below it
  that is not recalled).

Medians and 90th percentiles are nearest-rank (the value at rank
ceil(p/100 x n) of the n sorted values). Times are committer times. With
--repo-dir (default: the current directory) the history is read from the Git
checkout holding DIR; with --repo it is fetched over SSH. Progress goes to
stderr. Exit code: 0 printed, 2 error.`,
		Example: `  syncd fleet dora --repo-dir examples/fleet-repo
  syncd fleet dora --window 2w --channel staging -o json
  syncd fleet dora --repo ssh://git@git.example.com/fleet.git --identity id --known-hosts kh`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			length, err := dora.ParseWindow(window)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("--window: %w", err))
			}
			rev := "HEAD"
			if len(args) == 1 {
				rev = args[0]
			}
			walk, err := f.historyWalk(cmd.Context(), s, rev)
			if err != nil {
				return withCode(ExitError, err)
			}
			fmt.Fprintf(s.err, "reading history of %s\n", rev)
			hist, err := fleethistory.Read(cmd.Context(), walk, fleethistory.Options{Progress: func(n int) {
				fmt.Fprintf(s.err, "reading history: %d commits\n", n)
			}})
			if err != nil {
				return withCode(ExitError, fmt.Errorf("reading the history: %w", err))
			}
			fmt.Fprintf(s.err, "read %d commits of the history, head %s\n", hist.Commits, shortSHA(hist.Head))
			report, err := dora.Compute(hist.History, dora.Options{Window: length, Channel: channel})
			if err != nil {
				return withCode(ExitError, err)
			}
			if output == "table" {
				return dora.WriteTable(s.out, report)
			}
			return printObject(s.out, report, output)
		},
	}
	f.addGit(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().StringVar(&window, "window", defaultDoraWindow, "how far back from the head commit's time: a Go duration, also with d (days) and w (weeks)")
	cmd.Flags().StringVar(&channel, "channel", "", "headline channel (default: the last of fleet.yaml spec.channels)")
	return cmd
}

// historyWalk returns the walk of the history of rev, from the Git checkout
// holding --repo-dir or fetched from --repo.
func (f *commonFlags) historyWalk(ctx context.Context, s *streams, rev string) (fleethistory.Walk, error) {
	switch {
	case f.repoDir != "" && f.repo != "":
		return nil, fmt.Errorf("--repo and --repo-dir are exclusive")
	case f.repo != "":
		src, err := f.gitSource(hclog.NewNullLogger())
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(s.err, "fetching %s\n", f.repo)
		snaps, err := src.FetchRevisions(ctx, rev)
		if err != nil {
			return nil, err
		}
		sha := snaps[0].SHA()
		_ = snaps[0].Close()
		return func(ctx context.Context, fn func(gitsource.WalkCommit) error) error {
			return src.Walk(ctx, sha, fn)
		}, nil
	}
	dir := f.repoDir
	if dir == "" {
		dir = "."
	}
	local, err := gitsource.OpenLocal(dir)
	if err != nil {
		return nil, fmt.Errorf("--repo-dir: %w", err)
	}
	return func(ctx context.Context, fn func(gitsource.WalkCommit) error) error {
		return local.Walk(ctx, rev, fn)
	}, nil
}
