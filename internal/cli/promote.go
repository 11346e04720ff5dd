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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
			p := newPromoter(src, log.Named("promote"), nil, nil)
			tp, err := newTracerProvider(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer func() { _ = tp.Shutdown(cmd.Context()) }()
			p.Tracer = tp
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
	f.addRemoteGit(cmd.Flags())
	f.addSigningKey(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	return cmd
}

// newPromoter is the promoter over src, reporting to m and recording
// Kubernetes Events through ev when they are set.
func newPromoter(src *gitsource.Source, log hclog.Logger, m *metrics.Metrics, ev *promotionEvents) *promote.Promoter {
	p := &promote.Promoter{
		Git: src, Log: log,
		Reports: func(ctx context.Context, _ promote.FleetAt) (map[string]*status.Report, map[string]error, error) {
			return status.ReadReports(ctx, src)
		},
	}
	if ev != nil {
		p.Notify = ev.record
	}
	if m != nil {
		pm := metrics.NewPromotion(m)
		notifyEvent := p.Notify
		p.Notify = func(d promote.Decision, commit string, err error) {
			if notifyEvent != nil {
				notifyEvent(d, commit, err)
			}
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

// promotionEvents records a Kubernetes Event per promotion, promotion
// proposed by pull request, recall, and failure to commit one, for `syncd
// run --promote` (a standalone `syncd promote` has no cluster and logs
// only). The involved object is the site's status ConfigMap
// (syncd-status-<site> in syncd's namespace): it always exists where the
// daemon runs, is syncd's own, and outlives the pod, so `kubectl describe`
// of it, or `kubectl get events -n <namespace>`, lists the fleet's
// promotions as this promoter made them. Events are created as
// internal/reconcile creates its own (one core/v1 Event each, synchronously,
// failures logged): promotions are rare, nothing needs aggregating.
type promotionEvents struct {
	client          client.Client
	namespace, site string
	log             hclog.Logger
}

// Event reasons of the promoter.
const (
	reasonPromoted          = "Promoted"
	reasonPromotionProposed = "PromotionProposed"
	reasonRecalled          = "Recalled"
	reasonPromotionFailed   = "PromotionFailed"
	reasonRecallFailed      = "RecallFailed"
)

// record is a promote.Promoter Notify: it records d's Event when d was
// committed (commit set) or failed (err set).
func (e *promotionEvents) record(d promote.Decision, commit string, err error) {
	var typ, reason, msg string
	switch {
	case err != nil && d.Decision == promote.Recall:
		typ, reason, msg = corev1.EventTypeWarning, reasonRecallFailed, fmt.Sprintf("could not recall %s %s: %v", d.Product, d.Version, err)
	case err != nil:
		typ, reason, msg = corev1.EventTypeWarning, reasonPromotionFailed, fmt.Sprintf("could not promote %s %s: %s -> %s: %v", d.Product, d.Version, d.From, d.To, err)
	case commit == "":
		return
	case d.Decision == promote.Recall:
		var moved []string
		for _, ch := range sortedChannels(d.Rollback) {
			to := d.Rollback[ch]
			if to == "" {
				to = "(left as it is: no earlier release)"
			}
			moved = append(moved, ch+" -> "+to)
		}
		typ, reason, msg = corev1.EventTypeWarning, reasonRecalled, fmt.Sprintf("recalled %s %s (commit %s): %s; %s", d.Product, d.Version, shortSHA(commit), strings.Join(moved, ", "), d.Reason)
	case d.PullRequest:
		typ, reason, msg = corev1.EventTypeNormal, reasonPromotionProposed, fmt.Sprintf("proposed %s %s: %s -> %s on branch %s (commit %s): %s", d.Product, d.Version, d.From, d.To, promote.PullRequestBranch(d), shortSHA(commit), d.Reason)
	case d.Decision == promote.Promote:
		typ, reason, msg = corev1.EventTypeNormal, reasonPromoted, fmt.Sprintf("promoted %s %s: %s -> %s (commit %s): %s", d.Product, d.Version, d.From, d.To, shortSHA(commit), d.Reason)
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := metav1.NewTime(time.Now())
	name := status.ConfigMapName(e.site)
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + ".", Namespace: e.namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "ConfigMap", Namespace: e.namespace, Name: name,
		},
		Reason: reason, Message: msg, Type: typ,
		Source:         corev1.EventSource{Component: "syncd"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "syncd.dev/syncd", ReportingInstance: e.site,
	}
	if err := e.client.Create(ctx, ev); err != nil {
		e.log.Warn("recording the promotion event failed", "reason", reason, "product", d.Product, "error", err)
	}
}

// sortedChannels are the channels of a recall's rollback, sorted.
func sortedChannels(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for ch := range m {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
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
