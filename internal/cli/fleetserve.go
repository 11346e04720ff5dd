package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/dashboard"
	"github.com/syncd-dev/syncd/internal/fleetstatus"
)

// Defaults of `syncd fleet serve`.
const (
	defaultDashboardListen   = "127.0.0.1:8080"
	defaultDashboardInterval = 30 * time.Second
)

// newFleetServeCommand is `syncd fleet serve`.
func newFleetServeCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Read-only fleet dashboard (web), from Git alone",
		Long: `Serve a read-only web dashboard of the fleet, built from Git alone: the fleet
repo's head (channels, site keys) and every site's status branch
(syncd/status/<site>), as ` + "`syncd fleet status`" + ` reads them, fetched every
--interval. Nothing is ever written to Git, and no cluster is reached.

Pages (GET only):
  /                    a row per site, a column per product: version and
                       health (coloured), drift and conflict counts, notes
                       (held back, frozen, failed); per site the applied
                       revision, the report's age, and markers for stale,
                       unsigned and unreadable reports and a branch head
                       held back by commit verification
  /sites/SITE          one site's products
  /products/PRODUCT    one product's channels and sites
  /api/fleet           the same data as JSON, as ` + "`syncd fleet status -o json`" + `
  /healthz             200 while serving, with how old the data is
  /readyz              503 until the first fetch succeeded, then 200

Ages and staleness are computed at each request. When a fetch fails, the
last good snapshot is still served, with "data as of <time>; last fetch
failed: <error>" on every page, and the failure is logged on stderr. The
pages reload themselves every --interval.

The dashboard has no login: --listen defaults to a loopback address; put it
behind an authenticating proxy to share it.`,
		Example: `  syncd fleet serve --repo ssh://git@git.example.com/fleet.git --identity key --known-hosts kh
  syncd fleet serve --listen :8080 --interval 1m --status-repo ssh://git@git.example.com/fleet-status.git ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if f.interval <= 0 {
				return withCode(ExitError, fmt.Errorf("--interval %s: want a positive duration", f.interval))
			}
			log, err := newLogger(s, f.logFormat)
			if err != nil {
				return err
			}
			reader, err := f.fleetStatusReader(log.Named("git"))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			poller := dashboard.NewPoller(dashboardFetch(reader, log), f.interval, log, nil)
			h := dashboard.Handler(poller, dashboard.Options{Refresh: f.interval}, nil)
			stop, err := serve(ctx, f.listen, h, log, "the fleet dashboard (/, /api/fleet, /healthz, /readyz)")
			if err != nil {
				return withCode(ExitError, err)
			}
			defer stop()
			log.Info("reading the fleet from Git", "repo", f.repo, "branch", f.branch, "status_repo", f.statusRepo, "interval", f.interval)
			poller.Run(ctx)
			return nil
		},
	}
	f.addRemoteGit(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	cmd.Flags().StringVar(&f.listen, "listen", defaultDashboardListen, "address to serve the dashboard on; loopback by default, as the dashboard has no login")
	cmd.Flags().DurationVar(&f.interval, "interval", defaultDashboardInterval, "how often to fetch the fleet repo and the status branches (and to reload the pages)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

// dashboardFetch reads the fleet through reader for the dashboard, naming
// on log what `fleet status` prints as warnings, each once per change
// rather than at every fetch: the fleet repo's problems (per revision),
// the sites read unsigned and the reports not read.
func dashboardFetch(reader *fleetStatusReader, log hclog.Logger) dashboard.FetchFunc {
	var (
		problemsAt string
		unsigned   = &unsignedWarner{log: log}
		unreadable map[string]bool
	)
	return func(ctx context.Context) (*fleetstatus.Inputs, error) {
		in, problems, err := reader.read(ctx)
		if err != nil {
			return nil, err
		}
		if problems != nil && problemsAt != in.Revision {
			log.Warn("the fleet repo has problems; showing what loaded", "revision", shortSHA(in.Revision), "problems", problems.Error())
		}
		problemsAt = in.Revision
		unsigned.observe(slices.Sorted(maps.Keys(in.Unsigned)))
		var newly []string
		newly, unreadable = unsignedChanges(unreadable, slices.Sorted(maps.Keys(in.Unreadable)))
		for _, site := range newly {
			log.Warn("report not read (said once until it changes)", "site", site, "error", in.Unreadable[site].Error())
		}
		return in, nil
	}
}
