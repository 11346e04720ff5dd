package metrics

import "github.com/prometheus/client_golang/prometheus"

// Promotion holds the promoter's series (SPEC §5), registered with the
// metrics of the daemon or command that runs the promoter.
type Promotion struct {
	promotions *prometheus.CounterVec
	recalls    *prometheus.CounterVec
	waiting    *prometheus.GaugeVec
}

// NewPromotion registers the promoter's series with m.
func NewPromotion(m *Metrics) *Promotion {
	p := &Promotion{
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_promotions_total", Help: "Promotions committed (or pushed as pull-request branches), by product, stage and result (committed, pull-request, failed).",
		}, []string{"product", "from", "to", "result"}),
		recalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_recalls_total", Help: "Releases recalled by the promoter, by product.",
		}, []string{"product"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_promotion_waiting", Help: "1 for each product and stage whose last evaluation waited or was blocked, by cause (soak, canary, window, freeze, labels, dependency, recalled, problems).",
		}, []string{"product", "stage", "reason"}),
	}
	m.registry.MustRegister(p.promotions, p.recalls, p.waiting)
	return p
}

// Promoted records a promotion of product from one channel to another.
func (p *Promotion) Promoted(product, from, to, result string) {
	p.promotions.WithLabelValues(product, from, to, result).Inc()
}

// Recalled records a recall of a release of product.
func (p *Promotion) Recalled(product string) { p.recalls.WithLabelValues(product).Inc() }

// Waiting replaces the waiting series with one per waiting product and
// stage: waiting maps {product, stage} to its cause.
func (p *Promotion) Waiting(waiting map[[2]string]string) {
	p.waiting.Reset()
	for k, cause := range waiting {
		p.waiting.WithLabelValues(k[0], k[1], cause).Set(1)
	}
}
