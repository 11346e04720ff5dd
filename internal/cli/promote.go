package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/metrics"
	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/status"
)

func newPromoteCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var once, dryRun bool
	var output string
	cmd := &cobra.Command{
		Use:   "promote [--once] [--dry-run] [-o table|json]",
		Short: "Evaluate pipelines, commit and push channel bumps and recalls",
		Long: `Evaluate every product's pipeline, stage by stage, from the fleet repo and the
sites' status reports (branches syncd/status/<site>), and commit what it decides:
promotions as "promote <product> <version>: <from> -> <to>" (or, for stages with
approval: pull-request, a branch promote/<product>/<to>/<version>), recalls as
"recall <product> <version>: <channels>". Prints per product and stage the
decision (promote, recall, wait, blocked), why, the evidence and when it will be
evaluated next. Without --once it evaluates every --interval, and again when a
soak ends or a window opens. Exit 0 when the evaluation ran (unreadable reports
are named on stderr), 2 on error. The deploy key needs write access.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			if f.repo == "" {
				return withCode(ExitError, fmt.Errorf("--repo (or SYNCD_REPO) is required"))
			}
			log, err := newLogger(s, f.logFormat)
			if err != nil {
				return withCode(ExitError, err)
			}
			src, err := f.gitSource(log.Named("git"))
			if err != nil {
				return withCode(ExitError, err)
			}
			p := newPromoter(src, log.Named("promote"), nil)
			if err := f.readReportsFrom(p, src, log); err != nil {
				return err
			}
			p.DryRun = dryRun
			ctx := cmd.Context()
			if !once {
				return withCode(ExitError, promoteLoop(ctx, p, f.interval, func(res *promote.Result) {
					printPromotion(s, res, output)
				}))
			}
			fmt.Fprintf(s.err, "evaluating the pipelines of %s (branch %s)\n", f.repo, f.branch)
			res, err := p.Once(ctx)
			if res != nil {
				printPromotion(s, res, output)
			}
			if err != nil {
				return withCode(ExitError, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "evaluate the pipelines once and exit")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the decisions without committing anything")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&f.interval, "interval", 15*time.Second, "without --once: how often to evaluate")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	f.addGit(cmd.Flags())
	f.addSigningKey(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	return cmd
}

// newPromoter is the promoter over src, reporting to m when set.
func newPromoter(src *gitsource.Source, log hclog.Logger, m *metrics.Metrics) *promote.Promoter {
	p := &promote.Promoter{
		Git: src, Log: log,
		Reports: func(ctx context.Context) (map[string]*status.Report, map[string]error, error) {
			return status.ReadReports(ctx, src)
		},
	}
	if m != nil {
		pm := metrics.NewPromotion(m)
		p.Notify = func(d promote.Decision, commit string, err error) {
			switch {
			case d.Decision == promote.Recall && err == nil && commit != "":
				pm.Recalled(d.Product)
			case d.Decision != promote.Promote:
			case err != nil:
				pm.Promoted(d.Product, d.From, d.To, "failed")
			case commit != "" && d.PullRequest:
				pm.Promoted(d.Product, d.From, d.To, "pull-request")
			case commit != "":
				pm.Promoted(d.Product, d.From, d.To, "committed")
			}
		}
		p.Evaluated = func(ds []promote.Decision) {
			waiting := map[[2]string]string{}
			for _, d := range ds {
				if (d.Decision == promote.Wait || d.Decision == promote.Blocked) && d.Cause != promote.CauseUpToDate {
					waiting[[2]string{d.Product, d.From + "->" + d.To}] = string(d.Cause)
				}
			}
			pm.Waiting(waiting)
		}
	}
	return p
}

// promoteLoop evaluates every interval, and at the earliest next
// evaluation a decision names, until ctx ends. Failures are logged and
// retried at the next turn.
func promoteLoop(ctx context.Context, p *promote.Promoter, interval time.Duration, show func(*promote.Result)) error {
	for {
		wait := interval
		res, err := p.Once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.Log.Error("promotion evaluation failed; retrying at the next interval", "error", err)
		}
		if res != nil {
			if show != nil {
				show(res)
			}
			if res.NextEvaluation != nil {
				if d := time.Until(*res.NextEvaluation); d > 0 && d < wait {
					wait = d
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// printPromotion prints res as a table or as JSON, and names unreadable
// reports on stderr.
func printPromotion(s *streams, res *promote.Result, output string) {
	sites := make([]string, 0, len(res.Unreadable))
	for site := range res.Unreadable {
		sites = append(sites, site)
	}
	sort.Strings(sites)
	for _, site := range sites {
		fmt.Fprintf(s.err, "warning: status report of site %s skipped: %v\n", site, res.Unreadable[site])
	}
	if output == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		ds := res.Decisions
		if ds == nil {
			ds = []promote.Decision{}
		}
		_ = enc.Encode(ds)
		return
	}
	writePromotionTable(s.out, res)
}

func writePromotionTable(out io.Writer, res *promote.Result) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tSTAGE\tVERSION\tDECISION\tNEXT\tREASON\tEVIDENCE")
	for _, d := range res.Decisions {
		next := "-"
		if d.NextEvaluation != nil {
			next = d.NextEvaluation.UTC().Format(time.RFC3339)
		}
		decision := string(d.Decision)
		if sha := res.Commits[d.Product+"/"+d.From+"/"+d.To]; sha != "" {
			decision += " (" + shortSHA(sha) + ")"
			if d.PullRequest {
				decision += " " + promote.PullRequestBranch(d)
			}
		}
		var ev []string
		for _, e := range d.Evidence {
			stale := ""
			if e.Stale {
				stale = " stale"
			}
			ev = append(ev, fmt.Sprintf("%s %s %.0f%%/%.0f%%%s", e.Site, time.Duration(e.Soaked), e.HealthyShare*100, e.UnhealthyShare*100, stale))
		}
		evidence := strings.Join(ev, ", ")
		if evidence == "" {
			evidence = "-"
		}
		version := d.Version
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(tw, "%s\t%s -> %s\t%s\t%s\t%s\t%s\t%s\n", d.Product, d.From, d.To, version, decision, next, d.Reason, evidence)
	}
	_ = tw.Flush()
}
