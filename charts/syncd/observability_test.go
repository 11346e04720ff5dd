package syncd_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/metrics"
)

// observabilityValues turns on the PrometheusRule and the dashboard.
func observabilityValues() map[string]any {
	v := with(requiredValues(), "prometheusRule.enabled", true)
	v = with(v, "prometheusRule.additionalLabels", map[string]any{"release": "kube-prometheus-stack"})
	v = with(v, "dashboard.enabled", true)
	return with(v, "dashboard.namespace", "monitoring")
}

// find returns the rendered object of the given kind and name.
func (r *rendered) find(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range r.objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("%s %s not rendered; rendered: %v", kind, name, r.ids())
	return nil
}

// ruleGroups returns the rule groups of the rendered PrometheusRule as a
// Prometheus rule file, and every rule's expression.
func ruleGroups(t *testing.T, r *rendered) (file []byte, exprs []string) {
	t.Helper()
	pr := r.find(t, "PrometheusRule", "syncd")
	if pr.GetAPIVersion() != "monitoring.coreos.com/v1" || pr.GetNamespace() != "syncd-system" {
		t.Errorf("PrometheusRule %s %s/%s", pr.GetAPIVersion(), pr.GetNamespace(), pr.GetName())
	}
	groups, ok, err := unstructured.NestedSlice(pr.Object, "spec", "groups")
	if err != nil || !ok || len(groups) == 0 {
		t.Fatalf("PrometheusRule spec.groups: %v (found %v)", err, ok)
	}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, rule := range rules {
			expr, _ := rule.(map[string]any)["expr"].(string)
			exprs = append(exprs, expr)
		}
	}
	file, err = yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	return file, exprs
}

// promtool runs `promtool check rules` on a rule file.
func promtool(t *testing.T, file []byte) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		// CI installs it (.ci/run): a missing promtool is a broken setup, not a skip.
		t.Fatalf("promtool not found (%v): install the Debian package prometheus (apt-get install prometheus)", err)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "check", "rules", path).CombinedOutput()
	return string(out), err
}

func TestObservabilityOffByDefault(t *testing.T) {
	r := mustRender(t, requiredValues(), "syncd-system")
	for _, o := range r.objects {
		if o.GetKind() == "PrometheusRule" || o.GetKind() == "ConfigMap" {
			t.Errorf("%s rendered by default", objectID(o))
		}
	}
}

// The chart's alert rules pass `promtool check rules`, and promtool does
// reject a broken rule (so the check is real).
func TestPrometheusRulePassesPromtool(t *testing.T) {
	r := mustRender(t, observabilityValues(), "syncd-system")
	pr := r.find(t, "PrometheusRule", "syncd")
	if pr.GetLabels()["release"] != "kube-prometheus-stack" || pr.GetLabels()["app.kubernetes.io/instance"] != release {
		t.Errorf("PrometheusRule labels %v: want additionalLabels and the chart's", pr.GetLabels())
	}
	file, exprs := ruleGroups(t, r)
	out, err := promtool(t, file)
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\nrules:\n%s", err, out, file)
	}
	if want := "SUCCESS: " + strconv.Itoa(len(exprs)) + " rules found"; !strings.Contains(out, want) {
		t.Errorf("promtool says %q, want %q", out, want)
	}
	// The alerts the chart promises, each with a severity and a summary.
	var alerts []string
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(file, &doc); err != nil {
		t.Fatal(err)
	}
	for _, g := range doc.Groups {
		for _, rule := range g.Rules {
			alerts = append(alerts, rule.Alert)
			if rule.Labels["severity"] == "" || !strings.Contains(rule.Annotations["summary"], "{{ $labels.") {
				t.Errorf("alert %s: labels %v, annotations %v: want a severity and a summary naming its labels", rule.Alert, rule.Labels, rule.Annotations)
			}
		}
	}
	for _, want := range []string{
		"SyncdReconcileFailing", "SyncdManualConflictOpen", "SyncdPromotionWaiting",
		"SyncdVerifyFailures", "SyncdDriftCorrectedRepeatedly", "SyncdStatusReportStale",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts %v lack %s", alerts, want)
		}
	}
	// Values reach the expressions.
	custom := with(observabilityValues(), "prometheusRule.reconcileFailingMinutes", 30)
	custom = with(custom, "prometheusRule.promotionWaitingIgnoredReasons", []any{"freeze", "window"})
	custom = with(custom, "prometheusRule.reportStaleMinutes", 45)
	_, exprs = ruleGroups(t, mustRender(t, custom, "syncd-system"))
	all := strings.Join(exprs, "\n")
	for _, want := range []string{"> 1800", "[30m]", `reason!~"freeze|window"`, "syncd_status_report_published_timestamp_seconds) > 2700"} {
		if !strings.Contains(all, want) {
			t.Errorf("expressions lack %q:\n%s", want, all)
		}
	}

	broken := strings.Replace(string(file), "syncd_drift_corrected_total[1h]", "syncd_drift_corrected_total[1h", 1)
	if broken == string(file) {
		t.Fatal("the drift rule is not where the test expects it")
	}
	if out, err := promtool(t, []byte(broken)); err == nil {
		t.Errorf("promtool accepted a broken expression:\n%s", out)
	}
}

// scrapeMetrics records one observation of every kind with the metrics
// registry `syncd run` serves (internal/metrics, daemon and promoter), and
// scrapes its /metrics handler over HTTP.
func scrapeMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	m := metrics.New("edge-store-042")
	p := metrics.NewPromotion(m)
	all := metrics.Counts{Created: 1, Configured: 1, Unchanged: 1, Pruned: 1, Drift: 1, Forced: 1, Yielded: 1, Held: 1}
	m.Reconciled("full", time.Second, all, nil)
	m.Reconciled("full", time.Second, metrics.Counts{}, errors.New("apply failed"))
	m.Reconciled("object", time.Millisecond, all, nil)
	m.Succeeded("0123abcd", time.Now(), map[string]int{string(health.Healthy): 2, string(health.Error): 1})
	m.Fetched(time.Millisecond, nil)
	m.Fetched(time.Millisecond, errors.New("unreachable"))
	m.VerifyFailed("web", "unsigned")
	m.ReportPublisher()
	m.ReportPublished(time.Now())
	p.Promoted("web", "staging", "prod", "failed")
	p.Recalled("web")
	p.Waiting(map[[2]string]string{{"web", "prod"}: "soak"})

	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return families
}

var (
	// syncdMetric is a metric name of syncd in an expression or the dashboard.
	syncdMetric = regexp.MustCompile(`\bsyncd_[a-z0-9_]+\b`)
	// selector is a metric name with label matchers.
	selector = regexp.MustCompile(`\b(syncd_[a-z0-9_]+)\{([^}]*)\}`)
	// matcher is one label matcher of a selector.
	matcher = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// Every metric and every label matcher the alert rules and the dashboard use
// exists in a scrape of syncd's metrics endpoint.
func TestAlertsAndDashboardUseRealMetrics(t *testing.T) {
	families := scrapeMetrics(t)
	series := map[string]map[string]bool{} // sample name → its label names
	for name, f := range families {
		labels := map[string]bool{"job": true, "instance": true} // added by Prometheus
		for _, m := range f.Metric {
			for _, l := range m.Label {
				labels[l.GetName()] = true
			}
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			series[name+"_bucket"] = maps.Clone(labels)
			series[name+"_bucket"]["le"] = true
			series[name+"_sum"], series[name+"_count"] = labels, labels
			continue
		}
		series[name] = labels
	}
	if len(series) < 10 {
		t.Fatalf("the scrape has only %d series: %v", len(series), slices.Sorted(maps.Keys(series)))
	}

	r := mustRender(t, observabilityValues(), "syncd-system")
	_, exprs := ruleGroups(t, r)
	cm := r.find(t, "ConfigMap", "syncd-dashboard")
	if cm.GetNamespace() != "monitoring" || cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap %s labels %v: want namespace monitoring and grafana_dashboard: \"1\"", objectID(cm), cm.GetLabels())
	}
	board, _, _ := unstructured.NestedString(cm.Object, "data", "syncd.json")
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(board), &dash); err != nil || dash.UID == "" {
		t.Fatalf("the dashboard is not a Grafana dashboard (uid %q): %v", dash.UID, err)
	}
	sources := map[string][]string{"alert rules": exprs}
	panels := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			sources["dashboard panel "+p.Title] = append(sources["dashboard panel "+p.Title], q.Expr)
		}
	}
	// The template variables' queries too: scan the whole dashboard.
	sources["dashboard"] = []string{board}
	if panels < 10 {
		t.Errorf("the dashboard has %d panels", panels)
	}

	used := map[string]bool{}
	for where, texts := range sources {
		for _, text := range texts {
			names := syncdMetric.FindAllString(text, -1)
			if len(names) == 0 && where != "dashboard" {
				t.Errorf("%s: %q uses no syncd metric", where, text)
			}
			for _, name := range names {
				used[name] = true
				if series[name] == nil {
					t.Errorf("%s uses %s, which syncd's /metrics does not serve", where, name)
				}
			}
			for _, sel := range selector.FindAllStringSubmatch(text, -1) {
				for _, m := range matcher.FindAllStringSubmatch(sel[2], -1) {
					if labels := series[sel[1]]; labels != nil && !labels[m[1]] {
						t.Errorf("%s matches label %s of %s, which has labels %v", where, m[1], sel[1], slices.Sorted(maps.Keys(labels)))
					}
				}
			}
		}
	}
	// Everything syncd serves of its own is on the dashboard or in an alert.
	for name := range series {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "syncd_") && !used[name] && !used[base+"_bucket"] && !used[base+"_count"] {
			t.Errorf("metric %s is neither on the dashboard nor in an alert", name)
		}
	}
}
