package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/tracing"
)

// HistoryDepth bounds how many commits of a channels file's history are
// walked to date its versions.
const HistoryDepth = 1000

// Commit trailers of promotion and recall commits.
const (
	TrailerStage    = "Syncd-Stage"
	TrailerDecision = "Syncd-Decision"
	TrailerEvidence = "Syncd-Evidence"
	TrailerReason   = "Syncd-Reason"
)

// Git is what the promoter needs of the fleet repo.
type Git interface {
	Fetch(ctx context.Context) (gitsource.Revision, bool, error)
	Snapshot(ctx context.Context, sha string) (*gitsource.Snapshot, error)
	FileHistory(ctx context.Context, sha, name string, max int) ([]gitsource.FileRevision, error)
	CommitChange(ctx context.Context, req gitsource.CommitRequest) (sha string, pushed bool, err error)
}

// FleetAt is the fleet repo at the revision an evaluation reads: a report
// reader checks the reports' signatures against the keys it declares.
type FleetAt struct {
	// Revision is the commit.
	Revision string
	// Files are its files.
	Files fs.FS
	// RequireSigned is fleet.yaml spec.reports.requireSigned.
	RequireSigned bool
}

// ReportReader reads every site's status report, trusting the keys the
// fleet repo at declares; unreadable reports are returned by site, never as
// the error.
type ReportReader func(ctx context.Context, at FleetAt) (reports map[string]*status.Report, unreadable map[string]error, err error)

// Promoter evaluates the fleet's pipelines and commits their decisions.
type Promoter struct {
	// Git is the fleet repo.
	Git Git
	// Reports reads the sites' reports.
	Reports ReportReader
	// Log receives one line per promotion, recall and failure.
	Log hclog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// DryRun evaluates without writing anything.
	DryRun bool
	// Evaluated, when set, receives every evaluation's decisions.
	Evaluated func([]Decision)
	// Notify, when set, is told of every decision acted on (commit is the
	// pushed commit, "" when nothing was pushed) or that failed.
	Notify func(d Decision, commit string, err error)
	// Tracer records a trace per evaluation, with a span per push
	// (tracing.New); nil records nothing.
	Tracer trace.TracerProvider
}

// Result is the outcome of one evaluation.
type Result struct {
	// Revision is the fleet repo head evaluated.
	Revision string
	// Decisions are the evaluation's decisions.
	Decisions []Decision
	// Commits are the commits pushed, by "product/from/to".
	Commits map[string]string
	// Unreadable names the sites whose report could not be read.
	Unreadable map[string]error
	// NextEvaluation is the earliest NextEvaluation of any decision.
	NextEvaluation *time.Time
}

// Once fetches the fleet repo and the reports, evaluates and, unless
// DryRun, commits each promotion (or pushes its pull-request branch) and
// each recall. Every commit re-evaluates on the head it is built on, so a
// change a person or another promoter pushed meanwhile is never lost nor
// duplicated. It returns an error when the evaluation could not run or a
// decision could not be committed; the result holds what was done.
func (p *Promoter) Once(ctx context.Context) (res *Result, err error) {
	ctx, span := tracing.Tracer(p.Tracer).Start(ctx, "promote.evaluate")
	defer func() {
		if res != nil {
			span.SetAttributes(tracing.Revision.String(res.Revision), attribute.Int("syncd.decisions", len(res.Decisions)),
				attribute.Int("syncd.commits", len(res.Commits)))
		}
		tracing.End(span, err)
	}()
	return p.once(ctx)
}

// once is Once within its span.
func (p *Promoter) once(ctx context.Context) (*Result, error) {
	now := p.now()
	rev, _, err := p.Git.Fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetching the fleet repo: %w", err)
	}
	snap, err := p.Git.Snapshot(ctx, rev.SHA)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rev.SHA, err)
	}
	repo, err := loadRepo(snap)
	if err != nil {
		return nil, fmt.Errorf("fleet repo at %s: %w", short(rev.SHA), err)
	}
	landed, err := p.landed(ctx, rev.SHA, repo)
	if err != nil {
		return nil, err
	}
	at := FleetAt{Revision: rev.SHA, Files: snap}
	if repo.Fleet != nil {
		at.RequireSigned = repo.Fleet.Spec.Reports.RequireSigned
	}
	reports, unreadable, err := p.Reports(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("reading status reports: %w", err)
	}
	in := Input{Repo: repo, Landed: landed, Reports: reports, Now: now, StaleAfter: staleAfter(repo)}
	res := &Result{Revision: rev.SHA, Decisions: Evaluate(in), Commits: map[string]string{}, Unreadable: unreadable}
	for _, d := range res.Decisions {
		if d.NextEvaluation != nil && (res.NextEvaluation == nil || d.NextEvaluation.Before(*res.NextEvaluation)) {
			res.NextEvaluation = d.NextEvaluation
		}
	}
	span := trace.SpanFromContext(ctx)
	for _, d := range res.Decisions {
		span.AddEvent("decision", trace.WithAttributes(tracing.Product.String(d.Product), tracing.Version.String(d.Version),
			tracing.Stage.String(d.From+" -> "+d.To), attribute.String("syncd.decision", string(d.Decision))))
	}
	if p.Evaluated != nil {
		p.Evaluated(res.Decisions)
	}
	if p.DryRun {
		return res, nil
	}
	var errs []error
	for _, d := range res.Decisions {
		if d.Decision != Promote && d.Decision != Recall {
			continue
		}
		sha, err := p.push(ctx, in, d)
		if p.Notify != nil {
			p.Notify(d, sha, err)
		}
		if err != nil {
			tracing.Log(ctx, p.logger()).Error("could not commit a decision", "product", d.Product, "decision", d.Decision, "version", d.Version, "error", err)
			errs = append(errs, fmt.Errorf("%s %s %s: %w", d.Decision, d.Product, d.Version, err))
			continue
		}
		if sha != "" {
			res.Commits[d.Product+"/"+d.From+"/"+d.To] = sha
		}
	}
	return res, errors.Join(errs...)
}

// push is act in a span "promote.push".
func (p *Promoter) push(ctx context.Context, in Input, d Decision) (sha string, err error) {
	ctx, span := tracing.Start(ctx, "promote.push", tracing.Product.String(d.Product), tracing.Version.String(d.Version),
		tracing.Stage.String(d.From+" -> "+d.To), attribute.String("syncd.decision", string(d.Decision)))
	defer func() {
		span.SetAttributes(tracing.Revision.String(sha), attribute.Bool("syncd.pushed", sha != ""))
		tracing.End(span, err)
	}()
	return p.act(ctx, in, d)
}

// act commits d. The change re-evaluates on the head it is applied to and
// edits nothing when the decision no longer holds there: "" is returned
// when nothing was pushed.
func (p *Promoter) act(ctx context.Context, in Input, d Decision) (string, error) {
	req := gitsource.CommitRequest{Trailers: trailers(d)}
	switch d.Decision {
	case Promote:
		req.Message = Subject{Decision: Promote, Product: d.Product, Version: d.Version, From: d.From, To: d.To}.String()
		if d.PullRequest {
			req.Branch, req.Rebuild = PullRequestBranch(d), true
		}
	case Recall:
		req.Message = Subject{Decision: Recall, Product: d.Product, Version: d.Version, Channels: sortedKeys(d.Rollback)}.String()
	}
	req.Change = func(wt *gitsource.WorkTree) error {
		now, ok, err := reevaluate(wt, in, d)
		if err != nil || !ok {
			return err
		}
		return apply(wt, now)
	}
	sha, pushed, err := p.Git.CommitChange(ctx, req)
	if err != nil {
		return "", err
	}
	if !pushed {
		tracing.Log(ctx, p.logger()).Debug("nothing to push: the head already holds the decision, or it no longer holds", "product", d.Product, "decision", d.Decision, "version", d.Version)
		return "", nil
	}
	tracing.Log(ctx, p.logger()).Info(string(d.Decision), "product", d.Product, "version", d.Version, "from", d.From, "to", d.To,
		"commit", sha, "branch", req.Branch, "reason", d.Reason)
	return sha, nil
}

// reevaluate decides d's stage again on the content of wt (the head a
// commit is being built on) and reports whether the same decision, for the
// same version, still holds there.
func reevaluate(wt fs.FS, in Input, d Decision) (Decision, bool, error) {
	repo, err := loadRepo(wt)
	if err != nil {
		return Decision{}, false, err
	}
	in.Repo = repo
	for _, nd := range Evaluate(in) {
		if nd.Product == d.Product && nd.From == d.From && nd.To == d.To {
			return nd, nd.Decision == d.Decision && nd.Version == d.Version, nil
		}
	}
	return Decision{}, false, nil
}

// apply edits wt as d says.
func apply(wt *gitsource.WorkTree, d Decision) error {
	file := path.Join("channels", d.Product+".yaml")
	edit := func(name string, fn func([]byte) ([]byte, error)) error {
		data, err := wt.ReadFile(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		out, err := fn(data)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return wt.WriteFile(name, out)
	}
	switch d.Decision {
	case Promote:
		return edit(file, func(b []byte) ([]byte, error) { return SetChannel(b, d.To, d.Version) })
	case Recall:
		rel := path.Join("products", d.Product, "releases", d.Version, "release.yaml")
		if err := edit(rel, func(b []byte) ([]byte, error) { return MarkRecalled(b, d.Product, d.Version, d.Reason) }); err != nil {
			return err
		}
		for _, ch := range sortedKeys(d.Rollback) {
			to := d.Rollback[ch]
			if to == "" {
				continue
			}
			if err := edit(file, func(b []byte) ([]byte, error) { return SetChannel(b, ch, to) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// PullRequestBranch is the branch a pull-request stage pushes d to.
func PullRequestBranch(d Decision) string {
	return fmt.Sprintf("promote/%s/%s/%s", d.Product, d.To, d.Version)
}

// trailers name the stage and the evidence of d.
func trailers(d Decision) []gitsource.Trailer {
	t := []gitsource.Trailer{
		{Key: TrailerStage, Value: d.From + " -> " + d.To},
		{Key: TrailerDecision, Value: oneLine(d.Reason)},
	}
	for _, e := range d.Evidence {
		t = append(t, gitsource.Trailer{Key: TrailerEvidence, Value: fmt.Sprintf("%s soaked %s healthy %.3f unhealthy %.3f",
			e.Site, time.Duration(e.Soaked), e.HealthyShare, e.UnhealthyShare)})
	}
	return t
}

// landed dates the channel versions of every product with a pipeline.
func (p *Promoter) landed(ctx context.Context, sha string, repo *fleet.Repo) (map[string]map[string]Landing, error) {
	out := map[string]map[string]Landing{}
	for name := range repo.Products {
		if repo.Fleet.PipelineFor(name) == nil {
			continue
		}
		hist, err := p.Git.FileHistory(ctx, sha, path.Join("channels", name+".yaml"), HistoryDepth)
		if err != nil {
			return nil, fmt.Errorf("history of channels/%s.yaml: %w", name, err)
		}
		revs := make([]Revision, len(hist))
		for i, h := range hist {
			revs[i] = Revision{Time: h.Time, Data: h.Data}
		}
		out[name] = Landed(revs)
	}
	return out, nil
}

// loadRepo loads the fleet repo in fsys; problems of single sites and
// products are kept in the repo (their products are blocked), a broken
// fleet.yaml is an error.
func loadRepo(fsys fs.FS) (*fleet.Repo, error) {
	repo, err := fleet.Load(fsys)
	if repo == nil || repo.Fleet == nil {
		if err == nil {
			err = errors.New("no fleet.yaml")
		}
		return nil, err
	}
	return repo, nil
}

// staleAfter is the fleet's report staleness bound (spec.reports).
func staleAfter(repo *fleet.Repo) time.Duration {
	if d := repo.Fleet.Spec.Reports.StaleAfter.Duration; d > 0 {
		return d
	}
	return status.DefaultStaleAfter
}

func (p *Promoter) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Promoter) logger() hclog.Logger {
	if p.Log == nil {
		return hclog.NewNullLogger()
	}
	return p.Log
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
