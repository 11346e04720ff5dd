package fleet

import "time"

// Fleet is fleet.yaml: the channels, the defaults and the promotion
// pipelines of the whole fleet.
type Fleet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Spec is the fleet's configuration.
	Spec FleetSpec `json:"spec"`
}

// FleetSpec is the configuration of a fleet.
type FleetSpec struct {
	// Channels are the channel names, in promotion order (e.g. dev, staging, prod).
	Channels []string `json:"channels"`
	// ConflictStrategy is the default for every site and product.
	// Load sets it to DefaultConflictStrategy when empty.
	ConflictStrategy ConflictStrategy `json:"conflictStrategy,omitempty"`
	// Rollout limits how fast the sites of one channel pick up a new version.
	Rollout Rollout `json:"rollout,omitzero"`
	// Freeze, when set and in force, stops every change at every site.
	Freeze *Freeze `json:"freeze,omitempty"`
	// Criteria are the health thresholds that canary stages apply.
	Criteria Criteria `json:"criteria,omitzero"`
	// Pipelines say how versions of products move from channel to channel.
	Pipelines []Pipeline `json:"pipelines,omitempty"`
	// Policies are pre-apply gates over every rendered object (SPEC §7).
	Policies []Policy `json:"policies,omitempty"`
	// Reports tunes the sites' status reports. Load fills in the defaults.
	Reports Reports `json:"reports,omitzero"`
}

// Default report timing, from SPEC §4.
const (
	// DefaultReportRefresh is how often a site refreshes its report's
	// liveness time when nothing else changes.
	DefaultReportRefresh = 5 * time.Minute
	// DefaultReportStaleAfter is how old a report's liveness time may grow
	// before readers treat the site as unknown.
	DefaultReportStaleAfter = 15 * time.Minute
)

// Reports tunes the status reports sites publish (SPEC §4).
type Reports struct {
	// Refresh is how often a site pushes its unchanged report to refresh its
	// liveness time: one small push per site per Refresh.
	Refresh Duration `json:"refresh,omitzero"`
	// StaleAfter is the age of a report's liveness time after which readers
	// treat the site as unknown; longer than Refresh.
	StaleAfter Duration `json:"staleAfter,omitzero"`
	// RequireSigned makes readers ignore the report of a site that declares
	// no key (sites/<site>/site.pub), as they ignore a report not signed by
	// the key a site declares (SPEC §7).
	RequireSigned bool `json:"requireSigned,omitempty"`
}

// Rollout limits the pace at which sites pick up a new version.
type Rollout struct {
	// MaxSitesPercentPerHour is the share (1-100) of one channel's sites that
	// may pick up a new version per hour; 0 means no limit.
	MaxSitesPercentPerHour int `json:"maxSitesPercentPerHour,omitempty"`
}

// Default health criteria, from SPEC §2.
const (
	// DefaultHealthyThreshold is the share of a soak that must be HEALTHY.
	DefaultHealthyThreshold = 0.95
	// DefaultUnhealthyThreshold is the share of a soak in ERROR that recalls.
	DefaultUnhealthyThreshold = 0.05
)

// Criteria are the health thresholds of canary stages, each between 0 and 1.
type Criteria struct {
	// HealthyThreshold is the share of the soak a site must be HEALTHY to count
	// towards promotion. Load sets it to DefaultHealthyThreshold when absent.
	HealthyThreshold *float64 `json:"healthyThreshold,omitempty"`
	// UnhealthyThreshold is the share of the soak a site may be ERROR before it
	// counts towards recall. Load sets it to DefaultUnhealthyThreshold when absent.
	UnhealthyThreshold *float64 `json:"unhealthyThreshold,omitempty"`
}

// Pipeline is the promotion path of the products its Product pattern matches.
type Pipeline struct {
	// Product is a product name or a path.Match pattern such as "*"; for each
	// product the most specific matching pipeline applies (see Fleet.PipelineFor).
	Product string `json:"product"`
	// MaintenanceWindow, when set, restricts promotions to the window.
	MaintenanceWindow *Window `json:"maintenanceWindow,omitempty"`
	// Stages are the promotion steps, each from one channel to a later one.
	Stages []Stage `json:"stages"`
}

// Approval values of a stage.
const (
	// ApprovalPullRequest pushes a branch promote/<product>/<to>/<version>
	// instead of committing to the tracked branch.
	ApprovalPullRequest = "pull-request"
)

// Stage promotes a version from one channel to the next. A stage has at most
// one of Timed and Canary; with neither, a version is promoted as soon as it
// is on From (subject to Approval and the maintenance window).
type Stage struct {
	// From is the channel the version must be on.
	From string `json:"from"`
	// To is the channel the version is promoted to; it comes after From in
	// FleetSpec.Channels.
	To string `json:"to"`
	// Approval is empty (commit directly) or ApprovalPullRequest.
	Approval string `json:"approval,omitempty"`
	// Timed promotes once the version has been on From for a duration.
	Timed *TimedStage `json:"timed,omitempty"`
	// Canary promotes once enough canary sites have soaked healthy.
	Canary *CanaryStage `json:"canary,omitempty"`
}

// TimedStage promotes a version that has been on the From channel long enough.
type TimedStage struct {
	// Duration is how long the version must have been on From.
	Duration Duration `json:"duration"`
}

// CanaryStage promotes, or recalls, a version by the health of the sites of
// the From channel that match Sites and run the version.
type CanaryStage struct {
	// Sites selects the canary sites among the sites subscribed to From.
	Sites SiteSelector `json:"sites,omitzero"`
	// PromoteWhenHealthy is the promotion condition.
	PromoteWhenHealthy PromoteCondition `json:"promoteWhenHealthy"`
	// RecallWhenUnhealthy, when set, is the recall condition.
	RecallWhenUnhealthy *RecallCondition `json:"recallWhenUnhealthy,omitempty"`
	// MinSites is the number of canary sites that must exist for the stage to
	// promote at all.
	MinSites int `json:"minSites,omitempty"`
	// RequireReleaseLabels are labels the release must carry (release.yaml).
	RequireReleaseLabels map[string]string `json:"requireReleaseLabels,omitempty"`
}

// SiteSelector selects sites by labels and by name. A site matches when it
// has all WithLabels, none of WithoutLabels (a key with an empty value means
// "has the key at all"), and is not in Exclude; sites in Include match
// regardless of labels.
type SiteSelector struct {
	// WithLabels are labels a site must have.
	WithLabels map[string]string `json:"withLabels,omitempty"`
	// WithoutLabels are labels a site must not have.
	WithoutLabels map[string]string `json:"withoutLabels,omitempty"`
	// Include names sites that match regardless of labels.
	Include []string `json:"include,omitempty"`
	// Exclude names sites that never match.
	Exclude []string `json:"exclude,omitempty"`
}

// PromoteCondition is met when Sites canary sites (or Percent of them) have
// soaked for Soak and met the fleet's HealthyThreshold. Exactly one of Sites
// and Percent is set.
type PromoteCondition struct {
	// Sites is the number of sites that must have soaked healthy.
	Sites int `json:"sites,omitempty"`
	// Percent (1-100) is the share of canary sites that must have soaked healthy.
	Percent int `json:"percent,omitempty"`
	// Soak is how long each site must have run the version.
	Soak Duration `json:"soak"`
}

// RecallCondition is met when Sites canary sites were ERROR for more than the
// fleet's UnhealthyThreshold of Soak.
type RecallCondition struct {
	// Sites is the number of unhealthy sites that triggers a recall.
	Sites int `json:"sites"`
	// Soak is the observation period.
	Soak Duration `json:"soak"`
}
