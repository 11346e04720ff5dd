package fleet

import (
	"path"
	"strings"
	"time"
)

// decodeFleet decodes and validates fleet.yaml. It returns the fleet when
// the file decoded, even if validation found problems (its channels are
// still useful to check the other files); the document holds the problems.
func decodeFleet(file string, data []byte, r *refs, envs *celEnvs) (*Fleet, *document) {
	d := parseDocument(file, data)
	if d.root == nil || !d.checkTypeMeta(KindFleet) {
		return nil, d
	}
	var f Fleet
	if !d.decode(&f) {
		return nil, d
	}
	meta := fieldPath{}.child("metadata")
	d.checkName(meta.child("name"), f.Name)
	d.checkLabels(meta.child("labels"), f.Labels)
	spec := fieldPath{}.child("spec")
	order := d.checkChannels(spec.child("channels"), f.Spec.Channels)
	d.checkStrategy(spec.child("conflictStrategy"), f.Spec.ConflictStrategy)
	d.checkRollout(spec.child("rollout"), f.Spec.Rollout)
	d.checkFreeze(spec.child("freeze"), f.Spec.Freeze)
	d.checkCriteria(spec.child("criteria"), f.Spec.Criteria)
	d.checkReports(spec.child("reports"), &f.Spec.Reports)
	d.checkPipelines(spec.child("pipelines"), f.Spec.Pipelines, &refs{
		channels: order, channelOrder: f.Spec.Channels, products: r.products, sites: r.sites,
	})
	d.checkPolicies(spec.child("policies"), f.Spec.Policies, envs)
	setFleetDefaults(&f)
	return &f, d
}

// setFleetDefaults fills in the defaults SPEC §2 gives for omitted fields.
func setFleetDefaults(f *Fleet) {
	if f.Spec.ConflictStrategy == "" {
		f.Spec.ConflictStrategy = DefaultConflictStrategy
	}
	if f.Spec.Criteria.HealthyThreshold == nil {
		v := DefaultHealthyThreshold
		f.Spec.Criteria.HealthyThreshold = &v
	}
	if f.Spec.Criteria.UnhealthyThreshold == nil {
		v := DefaultUnhealthyThreshold
		f.Spec.Criteria.UnhealthyThreshold = &v
	}
}

// checkChannels validates the channel list and returns each valid channel's
// position in it.
func (d *document) checkChannels(p fieldPath, channels []string) map[string]int {
	if len(channels) == 0 {
		d.errorf(p, "required: list the channels in promotion order, such as [dev, staging, prod]")
	}
	order := make(map[string]int, len(channels))
	for i, ch := range channels {
		if !d.checkName(p.index(i), ch) {
			continue
		}
		if _, dup := order[ch]; dup {
			d.errorf(p.index(i), "duplicate channel %q", ch)
			continue
		}
		order[ch] = i
	}
	return order
}

func (d *document) checkRollout(p fieldPath, r Rollout) {
	if v := r.MaxSitesPercentPerHour; v < 0 || v > 100 {
		d.errorf(p.child("maxSitesPercentPerHour"), "must be between 0 (no limit) and 100, got %d", v)
	}
}

func (d *document) checkCriteria(p fieldPath, c Criteria) {
	d.checkShare(p.child("healthyThreshold"), c.HealthyThreshold)
	d.checkShare(p.child("unhealthyThreshold"), c.UnhealthyThreshold)
}

// checkReports fills in the report timing defaults and validates it.
func (d *document) checkReports(p fieldPath, r *Reports) {
	if r.Refresh.Duration == 0 {
		r.Refresh.Duration = DefaultReportRefresh
	}
	if r.StaleAfter.Duration == 0 {
		r.StaleAfter.Duration = DefaultReportStaleAfter
	}
	if r.Refresh.Duration < time.Second {
		d.errorf(p.child("refresh"), "must be at least 1s, got %s", r.Refresh.Duration)
	}
	if r.StaleAfter.Duration <= r.Refresh.Duration {
		d.errorf(p.child("staleAfter"), "must be longer than refresh (%s), got %s: every site would look stale between refreshes", r.Refresh.Duration, r.StaleAfter.Duration)
	}
}

func (d *document) checkShare(p fieldPath, v *float64) {
	if v != nil && (*v < 0 || *v > 1) {
		d.errorf(p, "must be between 0 and 1, got %g", *v)
	}
}

func (d *document) checkPipelines(p fieldPath, pipelines []Pipeline, r *refs) {
	seen := make(map[string]bool, len(pipelines))
	for i, pl := range pipelines {
		pp := p.index(i)
		d.checkPipelineProduct(pp.child("product"), pl.Product, r)
		if seen[pl.Product] {
			d.errorf(pp.child("product"), "another pipeline already matches %q", pl.Product)
		}
		seen[pl.Product] = true
		if pl.MaintenanceWindow != nil {
			d.checkWindow(pp.child("maintenanceWindow"), *pl.MaintenanceWindow)
		}
		d.checkStages(pp.child("stages"), pl.Stages, r)
	}
}

// checkPipelineProduct validates a pipeline's product: a path.Match pattern
// or the name of an existing product.
func (d *document) checkPipelineProduct(p fieldPath, pattern string, r *refs) {
	switch {
	case pattern == "":
		d.errorf(p, `required: a product name, or a pattern such as "*"`)
	case isPattern(pattern):
		if _, err := path.Match(pattern, ""); err != nil {
			d.errorf(p, "invalid pattern %q: %v", pattern, err)
		}
	case !known(r.products, pattern):
		d.errorf(p, "no product %q (no products/%s/)", pattern, pattern)
	}
}

func (d *document) checkStages(p fieldPath, stages []Stage, r *refs) {
	if len(stages) == 0 {
		d.errorf(p, "required: at least one stage")
	}
	fedBy := make(map[string]int, len(stages))
	for i, s := range stages {
		sp := p.index(i)
		d.checkStage(sp, s, r)
		if prev, dup := fedBy[s.To]; dup && s.To != "" {
			d.errorf(sp.child("to"), "stage %d already promotes to %q", prev, s.To)
		}
		fedBy[s.To] = i
	}
}

func (d *document) checkStage(p fieldPath, s Stage, r *refs) {
	d.checkStageChannels(p, s, r)
	if s.Approval != "" && s.Approval != ApprovalPullRequest {
		d.errorf(p.child("approval"), "must be %q or empty, got %q", ApprovalPullRequest, s.Approval)
	}
	if s.Timed != nil && s.Canary != nil {
		d.errorf(p, "a stage is either timed or canary, not both")
	}
	if s.Canary != nil {
		d.checkCanary(p.child("canary"), *s.Canary, r)
	}
}

// checkStageChannels checks that a stage moves from a declared channel to a
// later declared channel.
func (d *document) checkStageChannels(p fieldPath, s Stage, r *refs) {
	for _, f := range []struct{ name, ch string }{{"from", s.From}, {"to", s.To}} {
		if f.ch == "" {
			d.errorf(p.child(f.name), "required")
			continue
		}
		d.checkChannel(p.child(f.name), f.ch, r)
	}
	from, okFrom := r.channels[s.From]
	to, okTo := r.channels[s.To]
	if okFrom && okTo && from >= to {
		d.errorf(p.child("to"), "must come after %q in spec.channels (%s)", s.From, strings.Join(r.channelOrder, ", "))
	}
}

func (d *document) checkCanary(p fieldPath, c CanaryStage, r *refs) {
	d.checkSelector(p.child("sites"), c.Sites, r)
	d.checkPromote(p.child("promoteWhenHealthy"), c.PromoteWhenHealthy)
	if rc := c.RecallWhenUnhealthy; rc != nil && rc.Sites < 1 {
		d.errorf(p.child("recallWhenUnhealthy").child("sites"), "must be at least 1, got %d", rc.Sites)
	}
	if c.MinSites < 0 {
		d.errorf(p.child("minSites"), "must not be negative, got %d", c.MinSites)
	}
	d.checkLabels(p.child("requireReleaseLabels"), c.RequireReleaseLabels)
}

func (d *document) checkPromote(p fieldPath, c PromoteCondition) {
	switch {
	case c.Sites < 0:
		d.errorf(p.child("sites"), "must not be negative, got %d", c.Sites)
	case c.Percent < 0 || c.Percent > 100:
		d.errorf(p.child("percent"), "must be between 1 and 100, got %d", c.Percent)
	case (c.Sites > 0) == (c.Percent > 0):
		d.errorf(p, "exactly one of sites and percent is required")
	}
}

func (d *document) checkSelector(p fieldPath, s SiteSelector, r *refs) {
	d.checkLabels(p.child("withLabels"), s.WithLabels)
	d.checkLabels(p.child("withoutLabels"), s.WithoutLabels)
	for _, list := range []struct {
		name  string
		sites []string
	}{{"include", s.Include}, {"exclude", s.Exclude}} {
		for i, site := range list.sites {
			ip := p.child(list.name).index(i)
			if d.checkName(ip, site) && !known(r.sites, site) {
				d.errorf(ip, "no site %q (no sites/%s/)", site, site)
			}
		}
	}
}

// isPattern reports whether a pipeline's product is a pattern rather than a
// product name.
func isPattern(s string) bool {
	return strings.ContainsAny(s, `*?[\`)
}
