package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/fleetstatus"
	"github.com/syncd-dev/syncd/internal/gitsource"
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
			reader, err := f.fleetStatusReader(hclog.NewNullLogger())
			if err != nil {
				return err
			}
			in, problems, err := reader.read(cmd.Context())
			if err != nil {
				return err
			}
			if problems != nil {
				fmt.Fprintf(s.err, "warning: the fleet repo at %s has problems:\n%v\n", shortSHA(in.Revision), problems)
			}
			for _, site := range slices.Sorted(maps.Keys(in.Unsigned)) {
				fmt.Fprintf(s.err, "warning: report of site %s is unsigned: the site declares no key (%s)\n", site, status.SiteKeyFile(site))
			}
			view := in.View(time.Now())
			for _, u := range view.Unreadable {
				fmt.Fprintf(s.err, "warning: report of site %s skipped: %s\n", u.Site, u.Error)
			}
			if output == "table" {
				return fleetstatus.WriteTable(s.out, view, in.Order)
			}
			return printObject(s.out, view, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	f.addRemoteGit(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	return cmd
}

// fleetStatusReader reads what `fleet status` and `fleet serve` show: the
// fleet repo's head (channels, keys) and the sites' status branches. It
// never writes to Git. A long-lived reader (the dashboard) keeps one, so
// that a read re-reads only the reports whose branch moved.
type fleetStatusReader struct {
	src     *gitsource.Source
	reports *reportReader
}

// fleetStatusReader returns the reader of --repo and --status-repo.
func (f *commonFlags) fleetStatusReader(log hclog.Logger) (*fleetStatusReader, error) {
	if f.repo == "" {
		return nil, withCode(ExitError, fmt.Errorf("--repo (or SYNCD_REPO) is required: the status branches live in the fleet repo"))
	}
	src, err := f.gitSource(log)
	if err != nil {
		return nil, err
	}
	statusSrc, err := f.statusSource(src, log.Named("status-repo"))
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return &fleetStatusReader{src: src, reports: newReportReader(statusSrc)}, nil
}

// read fetches the fleet repo's head and the sites' reports. problems are
// those of a fleet repo that loaded with problems (what loaded is used);
// err is set when nothing could be read.
func (r *fleetStatusReader) read(ctx context.Context) (in *fleetstatus.Inputs, problems, err error) {
	rev, _, err := r.src.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	snap, err := r.src.Snapshot(ctx, rev.SHA)
	if err != nil {
		return nil, nil, err
	}
	// A fleet repo with problems still shows what loaded.
	repo, lerr := fleet.Load(snap)
	if repo == nil {
		return nil, nil, withCode(ExitError, lerr)
	}
	in = &fleetstatus.Inputs{Revision: rev.SHA, Unsigned: map[string]bool{}, Channels: map[string]map[string]string{}}
	at := promote.FleetAt{Revision: rev.SHA, Files: snap}
	if repo.Fleet != nil {
		at.RequireSigned = repo.Fleet.Spec.Reports.RequireSigned
		in.Order = repo.Fleet.Spec.Channels
		in.StaleAfter = repo.Fleet.Spec.Reports.StaleAfter.Duration
	}
	in.Reports, in.Unreadable, err = r.reports.read(ctx, at, func(site string) { in.Unsigned[site] = true })
	if err != nil {
		return nil, nil, err
	}
	for name, p := range repo.Products {
		if p.Channels != nil {
			in.Channels[name] = p.Channels.Spec
		}
	}
	return in, lerr, nil
}
