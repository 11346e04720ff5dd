package promote

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/status"
)

// Kind is what Evaluate decides for one product and stage.
type Kind string

// The decisions of SPEC §5.
const (
	// Promote: the version moves from From to To.
	Promote Kind = "promote"
	// Recall: the version is recalled and every channel carrying it moves
	// back.
	Recall Kind = "recall"
	// Wait: nothing to do yet (a soak, a window, nothing new); see
	// NextEvaluation.
	Wait Kind = "wait"
	// Blocked: a rule holds the version back until a person changes
	// something (a missing label or dependency, a recall, a freeze).
	Blocked Kind = "blocked"
)

// Cause is why a stage waits or is blocked, in one word (a metric label).
type Cause string

// Causes of waits and blocks.
const (
	CauseUpToDate   Cause = "up-to-date"
	CauseSoak       Cause = "soak"
	CauseCanary     Cause = "canary"
	CauseWindow     Cause = "window"
	CauseFreeze     Cause = "freeze"
	CauseLabels     Cause = "labels"
	CauseDependency Cause = "dependency"
	CauseRecalled   Cause = "recalled"
	CauseProblems   Cause = "problems"
)

// Input is everything Evaluate decides from.
type Input struct {
	// Repo is the fleet repo at the head being evaluated.
	Repo *fleet.Repo
	// Landed says, per product and channel, when the channel's version
	// landed (see Landed).
	Landed map[string]map[string]Landing
	// Reports are the sites' status reports, by site; a site without one is
	// unknown.
	Reports map[string]*status.Report
	// Now is the evaluation time.
	Now time.Time
	// StaleAfter is how old a report's liveness time may be before the
	// site's health counts as unknown (status.DefaultStaleAfter when 0).
	StaleAfter time.Duration
}

// Decision is the outcome for one product and stage, in the shape of
// `syncd promote -o json` (SPEC §5).
type Decision struct {
	Product  string     `json:"product"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Version  string     `json:"version,omitempty"`
	Decision Kind       `json:"decision"`
	Reason   string     `json:"reason"`
	Evidence []Evidence `json:"evidence"`
	// NextEvaluation is when the decision may change without a new commit
	// or report (the end of a soak, a window opening, a freeze lifting).
	NextEvaluation *time.Time `json:"nextEvaluation"`
	// Cause classifies a wait or a block in one word (see the Cause
	// constants); empty for promote and recall.
	Cause Cause `json:"cause,omitempty"`
	// PullRequest is set when the stage promotes by pull request.
	PullRequest bool `json:"pullRequest,omitempty"`
	// Rollback names, for a recall, each channel that carries the version
	// and the version it moves back to ("" when no earlier release exists:
	// the channel is left as it is).
	Rollback map[string]string `json:"rollback,omitempty"`
}

// Evidence is what one canary site contributed to a decision.
type Evidence struct {
	Site string `json:"site"`
	// Soaked is how long the site has run the version.
	Soaked Duration `json:"soaked"`
	// HealthyShare and UnhealthyShare are the shares of that time the
	// site was HEALTHY and ERROR.
	HealthyShare   float64 `json:"healthyShare"`
	UnhealthyShare float64 `json:"unhealthyShare"`
	// Stale is set when the site's report is stale: its health is known
	// only up to its last liveness time.
	Stale bool `json:"stale,omitempty"`
}

// Duration is a time.Duration written as Go writes it ("1h30m0s").
type Duration time.Duration

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Evaluate decides, for every product that has a pipeline and every stage
// of it, in product then stage order (SPEC §5):
//
//   - recall, when a canary stage's recall condition holds: RecallWhenUnhealthy.Sites
//     candidate sites were ERROR longer than the fleet's unhealthyThreshold
//     times the recall soak (recalls ignore windows and freezes: they are
//     committed, and sites apply them when a freeze lifts);
//   - blocked, when the version cannot move until a person acts: it is
//     recalled, the fleet is frozen, release labels or dependencies are
//     missing, the product has problems;
//   - wait, when it has nothing to do yet: nothing new on From, a timed or
//     canary soak not over, too few canary sites, a closed window;
//   - promote otherwise.
func Evaluate(in Input) []Decision {
	e := evaluator{Input: in}
	if e.StaleAfter <= 0 {
		e.StaleAfter = status.DefaultStaleAfter
	}
	var out []Decision
	if in.Repo == nil || in.Repo.Fleet == nil {
		return nil
	}
	names := make([]string, 0, len(in.Repo.Products)+len(in.Repo.ProductErrors))
	for name := range in.Repo.Products {
		names = append(names, name)
	}
	for name := range in.Repo.ProductErrors {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pl := in.Repo.Fleet.PipelineFor(name)
		if pl == nil {
			continue
		}
		for _, st := range pl.Stages {
			out = append(out, e.stage(name, pl, st))
		}
	}
	return out
}

type evaluator struct {
	Input
}

// stage decides one stage of product name's pipeline.
func (e *evaluator) stage(name string, pl *fleet.Pipeline, st fleet.Stage) Decision {
	d := Decision{Product: name, From: st.From, To: st.To, Evidence: []Evidence{},
		PullRequest: st.Approval == fleet.ApprovalPullRequest}
	p := e.Repo.Products[name]
	if p == nil {
		return d.setC(CauseProblems, Blocked, fmt.Sprintf("the product has problems: %s", firstLine(e.Repo.ProductErrors[name])), nil)
	}
	channels := map[string]string{}
	if p.Channels != nil {
		channels = p.Channels.Spec
	}
	v := channels[st.From]
	d.Version = v
	if v == "" {
		return d.setC(CauseUpToDate, Wait, fmt.Sprintf("nothing on %s", st.From), nil)
	}
	rel := p.Release(v)
	if rel == nil {
		return d.setC(CauseProblems, Blocked, fmt.Sprintf("channels/%s.yaml puts %s on %s, but there is no release %s", name, v, st.From, v), nil)
	}
	if rel.Spec.Recalled {
		return d.setC(CauseRecalled, Blocked, recalledReason(rel), nil)
	}
	var cands []candidate
	if st.Canary != nil {
		cands = e.candidates(p, st, v)
		for _, c := range cands {
			d.Evidence = append(d.Evidence, c.evidence())
		}
		if rc := st.Canary.RecallWhenUnhealthy; rc != nil {
			if reason, ok := e.recallDue(cands, rc); ok {
				d.Rollback = rollback(p, v)
				return d.set(Recall, reason, nil)
			}
		}
	}
	if toV := channels[st.To]; toV != "" {
		if toV == v {
			return d.setC(CauseUpToDate, Wait, fmt.Sprintf("%s already has %s", st.To, v), nil)
		}
		if newer(toV, v) {
			return d.setC(CauseUpToDate, Wait, fmt.Sprintf("%s has %s, newer than %s on %s", st.To, toV, v, st.From), nil)
		}
	}
	if fr := e.Repo.Fleet.Spec.Freeze; fr.InForce(e.Now) {
		return d.setC(CauseFreeze, Blocked, "the fleet is frozen: "+fr.String(), fr.Until)
	}
	if st.Canary != nil {
		if missing := missingLabels(rel, st.Canary.RequireReleaseLabels); missing != "" {
			return d.setC(CauseLabels, Blocked, fmt.Sprintf("release %s lacks the label%s %s", v, plural(strings.Count(missing, ",")+1), missing), nil)
		}
	}
	if reason := e.missingDependency(p, st.To); reason != "" {
		return d.setC(CauseDependency, Blocked, reason, nil)
	}
	ready, reason, next := e.gate(name, st, v, cands)
	if !ready {
		cause := CauseSoak
		if st.Canary != nil {
			cause = CauseCanary
		}
		return d.setC(cause, Wait, reason, next)
	}
	if w := pl.MaintenanceWindow; w != nil {
		open, err := w.Open(e.Now)
		if err != nil {
			return d.setC(CauseProblems, Blocked, fmt.Sprintf("maintenanceWindow: %v", err), nil)
		}
		if !open {
			at, _ := w.NextOpen(e.Now)
			return d.setC(CauseWindow, Wait, fmt.Sprintf("%s; waiting for the maintenance window, opens %s", reason, stamp(at)), &at)
		}
	}
	return d.set(Promote, reason, nil)
}

// setC is set with the cause of a wait or block.
func (d Decision) setC(c Cause, k Kind, reason string, next *time.Time) Decision {
	d.Cause = c
	return d.set(k, reason, next)
}

func (d Decision) set(k Kind, reason string, next *time.Time) Decision {
	d.Decision, d.Reason = k, reason
	if next != nil {
		t := next.UTC()
		d.NextEvaluation = &t
	}
	return d
}

// gate applies the stage's own condition: a timed stage's duration, a
// canary stage's healthy sites. It returns whether the stage lets the
// version through, why, and when to look again when it does not.
func (e *evaluator) gate(name string, st fleet.Stage, v string, cands []candidate) (bool, string, *time.Time) {
	switch {
	case st.Timed != nil:
		l, ok := e.Landed[name][st.From]
		if !ok || l.Version != v || l.At.IsZero() {
			// No history (a shallow or rewritten repo): the soak starts now,
			// never earlier than the evidence allows.
			l = Landing{Version: v, At: e.Now}
		}
		soak := st.Timed.Duration.Duration
		end := l.At.Add(soak)
		if e.Now.Before(end) {
			return false, fmt.Sprintf("timed: %s on %s since %s, %s left of %s", v, st.From, stamp(l.At), end.Sub(e.Now).Round(time.Second), soak), &end
		}
		return true, fmt.Sprintf("timed: %s on %s since %s (%s)", v, st.From, stamp(l.At), soak), nil
	case st.Canary != nil:
		return e.canaryGate(st, v, cands)
	default:
		return true, fmt.Sprintf("%s is on %s", v, st.From), nil
	}
}

// canaryGate is the promotion condition of a canary stage.
func (e *evaluator) canaryGate(st fleet.Stage, v string, cands []candidate) (bool, string, *time.Time) {
	c := st.Canary
	if len(cands) < c.MinSites || len(cands) == 0 {
		return false, fmt.Sprintf("canary: %d site%s on %s run%s %s; at least %d needed", len(cands), plural(len(cands)), st.From, verbS(len(cands)), v, max(c.MinSites, 1)), nil
	}
	need := c.PromoteWhenHealthy.Sites
	if c.PromoteWhenHealthy.Percent > 0 {
		need = int(math.Ceil(float64(len(cands)) * float64(c.PromoteWhenHealthy.Percent) / 100))
	}
	need = max(need, 1)
	soak := c.PromoteWhenHealthy.Soak.Duration
	threshold := healthyThreshold(e.Repo.Fleet)
	healthy := 0
	var next *time.Time
	for _, cand := range cands {
		if cand.tov.Total >= soak {
			if cand.tov.HealthyShare() >= threshold {
				healthy++
			}
			continue
		}
		end := cand.since.Add(soak)
		if next == nil || end.Before(*next) {
			next = &end
		}
	}
	what := fmt.Sprintf("canary: %d of %d required site%s soaked %s at least %.0f%% healthy (%d running %s)", healthy, need, plural(need), soak, threshold*100, len(cands), v)
	if healthy >= need {
		return true, what, nil
	}
	return false, what, next
}

// candidate is a canary site running the version.
type candidate struct {
	site  string
	since time.Time
	tov   status.TimeOnVersion
	stale bool
}

func (c candidate) evidence() Evidence {
	return Evidence{Site: c.site, Soaked: Duration(c.tov.Total), HealthyShare: round(c.tov.HealthyShare()),
		UnhealthyShare: round(c.tov.ErrorShare()), Stale: c.stale}
}

// candidates are the sites whose effective channel for p is the stage's
// From, that p targets, that match the stage's site filters, and whose
// report shows them running v (SPEC §5), sorted by name.
func (e *evaluator) candidates(p *fleet.Product, st fleet.Stage, v string) []candidate {
	var out []candidate
	for _, name := range sortedSites(e.Repo) {
		site := e.Repo.Sites[name]
		if channelOf(site, p.Name) != st.From || !st.Canary.Sites.Matches(site) {
			continue
		}
		if ok, err := p.TargetsSite(site); err != nil || !ok {
			continue
		}
		rep := e.Reports[name]
		if rep == nil {
			continue
		}
		i := slices.IndexFunc(rep.Products, func(rp status.ReportProduct) bool { return rp.Name == p.Name })
		if i < 0 || rep.Products[i].Version != v {
			continue
		}
		rp := &rep.Products[i]
		out = append(out, candidate{
			site: name, since: rp.VersionSince,
			tov:   rp.TimeOnVersion(rep.Known(e.Now, e.StaleAfter), e.Now),
			stale: rep.Stale(e.Now, e.StaleAfter),
		})
	}
	return out
}

// recallDue reports whether rc holds: rc.Sites candidates were ERROR for
// longer than the unhealthy threshold times rc.Soak.
func (e *evaluator) recallDue(cands []candidate, rc *fleet.RecallCondition) (string, bool) {
	limit := time.Duration(unhealthyThreshold(e.Repo.Fleet) * float64(rc.Soak.Duration))
	var bad []string
	for _, c := range cands {
		if c.tov.Error > limit {
			bad = append(bad, fmt.Sprintf("%s ERROR %s", c.site, c.tov.Error.Round(time.Second)))
		}
	}
	if len(bad) < max(rc.Sites, 1) {
		return "", false
	}
	return fmt.Sprintf("%d site%s ERROR longer than %s (%.0f%% of %s): %s", len(bad), plural(len(bad)), limit.Round(time.Second),
		unhealthyThreshold(e.Repo.Fleet)*100, rc.Soak.Duration, strings.Join(bad, ", ")), true
}

// missingDependency says which dependency of p lacks its minVersion on
// channel, or "" when all are there.
func (e *evaluator) missingDependency(p *fleet.Product, channel string) string {
	for _, dep := range p.Spec.Dependencies {
		if dep.MinVersion == "" {
			continue
		}
		dp := e.Repo.Products[dep.Product]
		have := ""
		if dp != nil && dp.Channels != nil {
			have = dp.Channels.Spec[channel]
		}
		if have == "" {
			return fmt.Sprintf("dependency %s %s is not on %s (nothing there)", dep.Product, dep.MinVersion, channel)
		}
		if newer(dep.MinVersion, have) {
			return fmt.Sprintf("dependency %s %s is not on %s (it has %s)", dep.Product, dep.MinVersion, channel, have)
		}
	}
	return ""
}

// rollback maps every channel of p that carries v to the newest release
// below v that is not recalled ("" when there is none).
func rollback(p *fleet.Product, v string) map[string]string {
	out := map[string]string{}
	target := ""
	if sv, err := semver.StrictNewVersion(v); err == nil {
		for i := len(p.Releases) - 1; i >= 0; i-- {
			r := p.Releases[i]
			if !r.Spec.Recalled && r.Version.LessThan(sv) {
				target = r.Version.Original()
				break
			}
		}
	}
	for ch, cv := range p.Channels.Spec {
		if cv == v {
			out[ch] = target
		}
	}
	return out
}

func channelOf(site *fleet.Site, product string) string {
	if o := site.Spec.Products[product].Channel; o != "" {
		return o
	}
	return site.Spec.Channel
}

func sortedSites(r *fleet.Repo) []string {
	names := make([]string, 0, len(r.Sites))
	for n := range r.Sites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func missingLabels(rel *fleet.Release, want map[string]string) string {
	var miss []string
	for k, v := range want {
		if rel.Labels[k] != v {
			miss = append(miss, k+"="+v)
		}
	}
	sort.Strings(miss)
	return strings.Join(miss, ", ")
}

func recalledReason(rel *fleet.Release) string {
	msg := rel.Version.Original() + " is recalled"
	if rel.Spec.Reason != "" {
		msg += " (" + rel.Spec.Reason + ")"
	}
	return msg + "; it is not promoted until a person sets recalled: false"
}

// newer reports whether version a is greater than b; unparsable versions
// compare as strings.
func newer(a, b string) bool {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	if errA != nil || errB != nil {
		return a > b
	}
	return va.GreaterThan(vb)
}

func healthyThreshold(f *fleet.Fleet) float64 {
	if t := f.Spec.Criteria.HealthyThreshold; t != nil {
		return *t
	}
	return fleet.DefaultHealthyThreshold
}

func unhealthyThreshold(f *fleet.Fleet) float64 {
	if t := f.Spec.Criteria.UnhealthyThreshold; t != nil {
		return *t
	}
	return fleet.DefaultUnhealthyThreshold
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func round(f float64) float64 { return math.Round(f*1000) / 1000 }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

func firstLine(err error) string {
	if err == nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
