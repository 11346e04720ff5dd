// Package metrics holds syncd's Prometheus metrics, on a registry of its own.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the series syncd exports, all prefixed syncd_.
type Metrics struct {
	registry *prometheus.Registry

	reconcileDuration *prometheus.HistogramVec
	objects           *prometheus.CounterVec
	drift             prometheus.Counter
	conflicts         *prometheus.CounterVec
	gitFetchDuration  prometheus.Histogram
	gitFetchErrors    prometheus.Counter
	lastSuccess       prometheus.Gauge
	revision          *prometheus.GaugeVec
	products          *prometheus.GaugeVec
	verifyFailures    *prometheus.CounterVec
	commitsHeld       prometheus.Gauge
	reportPublished   *prometheus.GaugeVec
}

// New returns the metrics of site, registered with Go and process collectors.
func New(site string) *Metrics {
	labels := prometheus.Labels{"site": site}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		reconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "syncd_reconcile_duration_seconds", Help: "Duration of full and single-object reconciles, by kind and result.",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"kind", "result"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_objects_applied_total", Help: "Objects handled by reconciles, by action (created, configured, unchanged, pruned).",
			ConstLabels: labels,
		}, []string{"action"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_drift_corrected_total", Help: "Objects brought back to Git's state after a change made outside Git.",
			ConstLabels: labels,
		}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_conflicts_total", Help: "Conflicted fields handled, by strategy outcome (forced, yielded, held).",
			ConstLabels: labels,
		}, []string{"action"}),
		gitFetchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "syncd_git_fetch_duration_seconds", Help: "Duration of fleet repo fetches (including no-change checks).",
			ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		gitFetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncd_git_fetch_errors_total", Help: "Failed fleet repo fetches.", ConstLabels: labels,
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_last_successful_reconcile_timestamp_seconds", Help: "Unix time of the last full reconcile without errors.",
			ConstLabels: labels,
		}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_revision_info", Help: "The fleet repo revision last reconciled (value 1).", ConstLabels: labels,
		}, []string{"revision"}),
		products: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_products", Help: "Products of the site by health.", ConstLabels: labels,
		}, []string{"health"}),
		verifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_verify_failures_total", Help: "Images that failed signature verification, by product and reason.",
			ConstLabels: labels,
		}, []string{"product", "reason"}),
		commitsHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "syncd_commit_verification_held", Help: "1 while the fleet repo head is not applied because its signature does not verify (--verify-commits), else 0.",
			ConstLabels: labels,
		}),
		// A vector without variable labels: no series until the daemon
		// says it publishes reports (ReportPublisher), so a site that does
		// not publish has nothing to alert on.
		reportPublished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_status_report_published_timestamp_seconds", Help: "Unix time the site's status report was last pushed to the fleet repo (a change or a liveness refresh); 0 until the first push. Only with --publish-status.",
			ConstLabels: labels,
		}, nil),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.reconcileDuration, m.objects, m.drift, m.conflicts, m.gitFetchDuration, m.gitFetchErrors,
		m.lastSuccess, m.revision, m.products, m.verifyFailures, m.commitsHeld, m.reportPublished,
	)
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Counts are what one reconcile did.
type Counts struct {
	Created, Configured, Unchanged, Pruned int
	Drift                                  int
	Forced, Yielded, Held                  int
}

// Reconciled records a reconcile of kind "full" or "object".
func (m *Metrics) Reconciled(kind string, d time.Duration, c Counts, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.reconcileDuration.WithLabelValues(kind, result).Observe(d.Seconds())
	for action, n := range map[string]int{"created": c.Created, "configured": c.Configured, "unchanged": c.Unchanged, "pruned": c.Pruned} {
		m.objects.WithLabelValues(action).Add(float64(n))
	}
	m.drift.Add(float64(c.Drift))
	for action, n := range map[string]int{"forced": c.Forced, "yielded": c.Yielded, "held": c.Held} {
		m.conflicts.WithLabelValues(action).Add(float64(n))
	}
}

// Succeeded records a full reconcile of revision without errors, with the
// number of products in each health state.
func (m *Metrics) Succeeded(revision string, at time.Time, health map[string]int) {
	m.lastSuccess.Set(float64(at.Unix()))
	m.revision.Reset()
	m.revision.WithLabelValues(revision).Set(1)
	m.products.Reset()
	for state, n := range health {
		m.products.WithLabelValues(state).Set(float64(n))
	}
}

// Fetched records a fleet repo fetch.
func (m *Metrics) Fetched(d time.Duration, err error) {
	m.gitFetchDuration.Observe(d.Seconds())
	if err != nil {
		m.gitFetchErrors.Inc()
	}
}

// VerifyFailed records an image of product that failed verification for
// reason (see verify.Reason).
func (m *Metrics) VerifyFailed(product, reason string) {
	m.verifyFailures.WithLabelValues(product, reason).Inc()
}

// CommitsHeld records whether the site stays behind its branch head because
// the head's signature does not verify.
func (m *Metrics) CommitsHeld(held bool) {
	v := 0.0
	if held {
		v = 1
	}
	m.commitsHeld.Set(v)
}

// ReportPublisher says the site publishes status reports: the series of
// ReportPublished appears, at 0 until the first push, so a publisher that
// never gets a report out is as stale as one that stopped.
func (m *Metrics) ReportPublisher() {
	m.reportPublished.WithLabelValues()
}

// ReportPublished records a push of the site's status report at at.
func (m *Metrics) ReportPublished(at time.Time) {
	m.reportPublished.WithLabelValues().Set(float64(at.Unix()))
}
