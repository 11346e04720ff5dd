package cli

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/fleetstatus"
	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/status"
)

// newFleetStatusCommand is `syncd fleet status`.
func newFleetStatusCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "status [-o table|json|yaml]",
		Short: "Products x sites table from the status branches",
		Long: `Fetch the fleet repo's head and every site's status branch (syncd/status/<site>)
in one round trip each, and print every product with its channels and, per
site, its version, health, drift, conflicts and the report's age. A report
older than fleet.yaml spec.reports.staleAfter is marked stale and its health
shown as UNKNOWN. A report read without a signature (its site declares no
sites/<site>/site.pub) is marked unsigned. Reports that cannot be read, or
are ignored for their signature, are named on stderr; the command still
exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := checkOutput(output, "table", "json", "yaml"); err != nil {
				return err
			}
			if f.repo == "" {
				return withCode(ExitError, fmt.Errorf("--repo (or SYNCD_REPO) is required: the status branches live in the fleet repo"))
			}
			src, err := f.gitSource(hclog.NewNullLogger())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rev, _, err := src.Fetch(ctx)
			if err != nil {
				return err
			}
			snap, err := src.Snapshot(ctx, rev.SHA)
			if err != nil {
				return err
			}
			// A fleet repo with problems still shows what loaded.
			repo, lerr := fleet.Load(snap)
			if repo == nil {
				return withCode(ExitError, lerr)
			}
			if lerr != nil {
				fmt.Fprintf(s.err, "warning: the fleet repo at %s has problems:\n%v\n", shortSHA(rev.SHA), lerr)
			}
			statusSrc, err := f.statusSource(src, hclog.NewNullLogger())
			if err != nil {
				return withCode(ExitError, err)
			}
			unsigned := map[string]bool{}
			at := promote.FleetAt{Revision: rev.SHA, Files: snap}
			if repo.Fleet != nil {
				at.RequireSigned = repo.Fleet.Spec.Reports.RequireSigned
			}
			reports, unreadable, err := newReportReader(statusSrc).read(ctx, at, func(site string) {
				unsigned[site] = true
				fmt.Fprintf(s.err, "warning: report of site %s is unsigned: the site declares no key (%s)\n", site, status.SiteKeyFile(site))
			})
			if err != nil {
				return err
			}
			channels := map[string]map[string]string{}
			for name, p := range repo.Products {
				if p.Channels != nil {
					channels[name] = p.Channels.Spec
				}
			}
			var order []string
			staleAfter := time.Duration(0)
			if repo.Fleet != nil {
				order = repo.Fleet.Spec.Channels
				staleAfter = repo.Fleet.Spec.Reports.StaleAfter.Duration
			}
			view := fleetstatus.Build(reports, unreadable, unsigned, channels, time.Now(), staleAfter)
			for _, u := range view.Unreadable {
				fmt.Fprintf(s.err, "warning: report of site %s skipped: %s\n", u.Site, u.Error)
			}
			if output == "table" {
				return fleetstatus.WriteTable(s.out, view, order)
			}
			return printObject(s.out, view, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	f.addRemoteGit(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	return cmd
}
