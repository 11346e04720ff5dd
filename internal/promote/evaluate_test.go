package promote

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/health"
	"github.com/syncd-dev/syncd/internal/status"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func ago(d string) time.Time {
	v, err := time.ParseDuration(d)
	if err != nil {
		panic(err)
	}
	return now.Add(-v)
}

// world is a small fleet: product web (releases 1.0.0 … 1.3.0) with a
// pipeline dev -> staging (timed 1h) -> prod (canary), and api (depended
// on by web).
type world struct {
	fleetSpec string            // spec of fleet.yaml, YAML
	channels  string            // spec of channels/web.yaml
	apiChans  string            // spec of channels/api.yaml
	sites     map[string]string // site name -> YAML after "metadata: {name: …, "
	releases  map[string]string // web version -> release.yaml spec+labels, "" for none
	webSpec   string            // extra spec of web's product.yaml
}

const basePipeline = `
  channels: [dev, staging, prod]
  criteria: {healthyThreshold: 0.9, unhealthyThreshold: 0.1}
  pipelines:
    - product: "*"
      stages:
        - {from: dev, to: staging, timed: {duration: 1h}}
        - from: staging
          to: prod
          canary:
            sites: {withLabels: {canary: "true"}, exclude: [excluded]}
            promoteWhenHealthy: {sites: 2, soak: 30m}
            recallWhenUnhealthy: {sites: 1, soak: 10m}
            minSites: 2
            requireReleaseLabels: {qa: passed}
`

func defaultWorld() world {
	return world{
		fleetSpec: basePipeline,
		channels:  "{dev: 1.2.0, staging: 1.1.0, prod: 1.0.0}",
		apiChans:  "{dev: 2.0.0, staging: 2.0.0, prod: 2.0.0}",
		sites: map[string]string{
			"c1":       `labels: {canary: "true"}}` + "\nspec: {channel: staging}",
			"c2":       `labels: {canary: "true"}}` + "\nspec: {channel: staging}",
			"c3":       `labels: {canary: "true"}}` + "\nspec: {channel: staging}",
			"excluded": `labels: {canary: "true"}}` + "\nspec: {channel: staging}",
			"plain":    `labels: {}}` + "\nspec: {channel: staging}",
			"override": `labels: {canary: "true"}}` + "\nspec: {channel: staging, products: {web: {channel: dev}}}",
			"p1":       `labels: {}}` + "\nspec: {channel: prod}",
		},
		releases: map[string]string{
			"1.0.0": "", "1.1.0": "labels: {qa: passed}}\nspec: {}", "1.2.0": "labels: {qa: passed}}\nspec: {}", "1.3.0": "",
		},
		webSpec: "\n  dependencies: [{product: api, minVersion: 2.0.0}]",
	}
}

func (w world) repo(t *testing.T) *fleet.Repo {
	t.Helper()
	fs := fstest.MapFS{}
	for name, data := range w.files() {
		fs[name] = &fstest.MapFile{Data: []byte(data)}
	}
	repo, err := fleet.Load(fs)
	if err != nil {
		t.Fatalf("loading the test fleet: %v", err)
	}
	return repo
}

// files are the fleet repo's files.
func (w world) files() map[string]string {
	fs := map[string]string{}
	add := func(name, data string) { fs[name] = data }
	add("fleet.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: acme}\nspec:"+w.fleetSpec+"\n")
	for name, rest := range w.sites {
		add("sites/"+name+"/site.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: "+name+", "+rest+"\n")
	}
	product := func(name, extra string, releases map[string]string, chans string) {
		add("products/"+name+"/product.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: "+name+"}\nspec:\n  targets: \"true\"\n  namespace: "+name+extra+"\n")
		for v, rel := range releases {
			dir := "products/" + name + "/releases/" + v + "/"
			add(dir+"kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n")
			add(dir+"cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+"}\n")
			if rel != "" {
				add(dir+"release.yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Release\nmetadata: {name: "+name+"-"+v+", "+rel+"\n")
			}
		}
		add("channels/"+name+".yaml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: "+name+"}\nspec: "+chans+"\n")
	}
	product("web", w.webSpec, w.releases, w.channels)
	product("api", "", map[string]string{"2.0.0": ""}, w.apiChans)
	return fs
}

// report is a site's report with web at version since versionSince, with
// the given health intervals (offsets before now).
func report(site, version, since string, intervals ...any) *status.Report {
	rp := status.ReportProduct{Name: "web", Version: version, VersionSince: ago(since)}
	for i := 0; i < len(intervals); i += 2 {
		rp.Intervals = append(rp.Intervals, status.Interval{Health: intervals[i].(health.State), From: ago(intervals[i+1].(string))})
	}
	return &status.Report{FormatVersion: 2, Site: site, RefreshedAt: now, Products: []status.ReportProduct{rp}}
}

func healthy(site, since string) *status.Report {
	return report(site, "1.1.0", since, health.Healthy, since)
}

func find(t *testing.T, ds []Decision, from string) Decision {
	t.Helper()
	for _, d := range ds {
		if d.Product == "web" && d.From == from {
			return d
		}
	}
	t.Fatalf("no decision for web from %s in %+v", from, ds)
	return Decision{}
}

func TestEvaluate(t *testing.T) {
	landedDev := func(d string) map[string]map[string]Landing {
		return map[string]map[string]Landing{"web": {"dev": {"1.2.0", ago(d)}, "staging": {"1.1.0", ago("48h")}}}
	}
	twoHealthy := map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": healthy("c2", "45m")}
	tests := []struct {
		name    string
		edit    func(*world)
		landed  map[string]map[string]Landing
		reports map[string]*status.Report
		from    string
		want    Kind
		reason  string // substring
		next    string // duration before now ("-30m" = in 30m), "" = none
		sites   []string
	}{
		{name: "timed: soaking", landed: landedDev("20m"), from: "dev", want: Wait, reason: "40m0s left of 1h0m0s", next: "-40m"},
		{name: "timed: soaked", landed: landedDev("61m"), from: "dev", want: Promote, reason: "timed: 1.2.0 on dev since"},
		{name: "timed: no history starts the soak now", landed: nil, from: "dev", want: Wait, next: "-1h"},
		{name: "already there", edit: func(w *world) { w.channels = "{dev: 1.2.0, staging: 1.2.0, prod: 1.0.0}" }, landed: landedDev("2h"), from: "dev", want: Wait, reason: "staging already has 1.2.0"},
		{name: "to is newer", edit: func(w *world) { w.channels = "{dev: 1.1.0, staging: 1.2.0}" }, landed: landedDev("2h"), from: "dev", want: Wait, reason: "newer than 1.1.0"},
		{name: "nothing on from", edit: func(w *world) { w.channels = "{staging: 1.1.0}" }, from: "dev", want: Wait, reason: "nothing on dev"},
		{name: "recalled release never promoted", edit: func(w *world) { w.releases["1.2.0"] = "labels: {qa: passed}}\nspec: {recalled: true, reason: leaks}" },
			landed: landedDev("2h"), from: "dev", want: Blocked, reason: "1.2.0 is recalled (leaks)"},
		{name: "fleet freeze", edit: func(w *world) { w.fleetSpec += "  freeze: {reason: year-end, until: 2026-12-02T18:00:00Z}\n" },
			landed: landedDev("2h"), from: "dev", want: Blocked, reason: "frozen: year-end", next: "-6h"},
		{name: "freeze over", edit: func(w *world) { w.fleetSpec += "  freeze: {reason: year-end, until: 2026-12-02T11:00:00Z}\n" },
			landed: landedDev("2h"), from: "dev", want: Promote},
		{name: "missing dependency", edit: func(w *world) { w.apiChans = "{dev: 2.0.0}" }, landed: landedDev("2h"), from: "dev", want: Blocked, reason: "dependency api 2.0.0 is not on staging"},
		{name: "dependency too old", edit: func(w *world) { w.webSpec = "\n  dependencies: [{product: api, minVersion: 2.1.0}]" }, landed: landedDev("2h"), from: "dev", want: Blocked, reason: "(it has 2.0.0)"},
		{name: "window closed", edit: func(w *world) {
			w.fleetSpec = strings.Replace(w.fleetSpec, `- product: "*"`, "- product: \"*\"\n      maintenanceWindow: {schedule: \"CRON_TZ=America/New_York 0 22 * * *\", duration: 2h}", 1)
		}, landed: landedDev("2h"), from: "dev", want: Wait, reason: "opens 2026-12-03T03:00:00Z", next: "-15h"},
		{name: "window open", edit: func(w *world) {
			w.fleetSpec = strings.Replace(w.fleetSpec, `- product: "*"`, "- product: \"*\"\n      maintenanceWindow: {schedule: \"0 11 * * *\", duration: 2h}", 1)
		}, landed: landedDev("2h"), from: "dev", want: Promote},

		{name: "canary: two healthy soaked", reports: twoHealthy, from: "staging", want: Promote, reason: "2 of 2 required sites", sites: []string{"c1", "c2"}},
		{name: "canary: one still soaking", reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": healthy("c2", "10m")},
			from: "staging", want: Wait, reason: "1 of 2", next: "-20m", sites: []string{"c1", "c2"}},
		{name: "canary: below minSites", reports: map[string]*status.Report{"c1": healthy("c1", "1h")}, from: "staging", want: Wait, reason: "at least 2 needed"},
		{name: "canary: excluded, unlabelled and overridden sites are not candidates",
			reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "excluded": healthy("excluded", "1h"), "plain": healthy("plain", "1h"), "override": healthy("override", "1h")},
			from:    "staging", want: Wait, reason: "at least 2 needed", sites: []string{"c1"}},
		{name: "canary: a site on another version is not a candidate",
			reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": report("c2", "1.0.0", "1h", health.Healthy, "1h")},
			from:    "staging", want: Wait, sites: []string{"c1"}},
		{name: "canary: slow start delays but never forbids",
			reports: map[string]*status.Report{"c1": report("c1", "1.1.0", "5h", health.Progressing, "5h", health.Healthy, "4h50m"), "c2": healthy("c2", "1h")},
			from:    "staging", want: Promote},
		{name: "canary: unhealthy share too high",
			reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": report("c2", "1.1.0", "1h", health.Progressing, "1h", health.Healthy, "50m")},
			from:    "staging", want: Wait, reason: "1 of 2"},
		{name: "canary: percent rounds up", edit: func(w *world) {
			w.fleetSpec = strings.Replace(w.fleetSpec, "{sites: 2, soak: 30m}", "{percent: 50, soak: 30m}", 1)
		}, reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": healthy("c2", "1h"), "c3": healthy("c3", "10m")},
			from: "staging", want: Promote, reason: "2 of 2 required"},
		{name: "canary: missing release label", edit: func(w *world) { w.releases["1.1.0"] = "labels: {qa: pending}}\nspec: {}" },
			reports: twoHealthy, from: "staging", want: Blocked, reason: "lacks the label qa=passed"},
		{name: "recall: ERROR beyond the threshold",
			reports: map[string]*status.Report{"c1": report("c1", "1.1.0", "1h", health.Healthy, "1h", health.Error, "2m"), "c2": healthy("c2", "1h")},
			from:    "staging", want: Recall, reason: "c1 ERROR 2m0s"},
		{name: "recall: ERROR within the threshold",
			reports: map[string]*status.Report{"c1": report("c1", "1.1.0", "1h", health.Healthy, "1h", health.Error, "30s"), "c2": healthy("c2", "1h")},
			from:    "staging", want: Promote},
		{name: "recall: stale time is not ERROR", reports: map[string]*status.Report{
			"c1": func() *status.Report {
				r := report("c1", "1.1.0", "1h", health.Healthy, "1h", health.Error, "40m")
				r.RefreshedAt = ago("39m30s")
				return r
			}(), "c2": healthy("c2", "1h")},
			from: "staging", want: Wait, sites: []string{"c1", "c2"}},
		{name: "recall: ignores the window", edit: func(w *world) {
			w.fleetSpec = strings.Replace(w.fleetSpec, `- product: "*"`, "- product: \"*\"\n      maintenanceWindow: {schedule: \"0 22 * * *\", duration: 1h}", 1)
		}, reports: map[string]*status.Report{"c1": report("c1", "1.1.0", "1h", health.Error, "1h")}, from: "staging", want: Recall},
		{name: "stale report: a candidate whose health stops at its liveness time", reports: map[string]*status.Report{
			"c1": healthy("c1", "2h"),
			"c2": func() *status.Report { r := healthy("c2", "2h"); r.RefreshedAt = ago("30m"); return r }()},
			from: "staging", want: Wait, reason: "1 of 2", sites: []string{"c1", "c2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := defaultWorld()
			if tt.edit != nil {
				tt.edit(&w)
			}
			ds := Evaluate(Input{Repo: w.repo(t), Landed: tt.landed, Reports: tt.reports, Now: now})
			d := find(t, ds, tt.from)
			if d.Decision != tt.want || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("decision = %s (%s); want %s containing %q", d.Decision, d.Reason, tt.want, tt.reason)
			}
			switch {
			case tt.next == "" && d.NextEvaluation != nil:
				t.Errorf("nextEvaluation = %v, want none", d.NextEvaluation)
			case tt.next != "" && (d.NextEvaluation == nil || !d.NextEvaluation.Equal(ago(tt.next))):
				t.Errorf("nextEvaluation = %v, want %v", d.NextEvaluation, ago(tt.next))
			}
			if tt.sites != nil {
				var got []string
				for _, e := range d.Evidence {
					got = append(got, e.Site)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.sites) {
					t.Errorf("evidence sites = %v, want %v", got, tt.sites)
				}
			}
		})
	}
}

func TestRecallRollsBackEveryChannelCarryingTheRelease(t *testing.T) {
	w := defaultWorld()
	w.channels = "{dev: 1.1.0, staging: 1.1.0, prod: 1.0.0}"
	w.releases["1.0.0"] = "labels: {}}\nspec: {recalled: true}"
	w.releases["0.9.0"] = ""
	ds := Evaluate(Input{Repo: w.repo(t), Now: now,
		Reports: map[string]*status.Report{"c1": report("c1", "1.1.0", "1h", health.Error, "1h")}})
	d := find(t, ds, "staging")
	if d.Decision != Recall || fmt.Sprint(d.Rollback) != "map[dev:0.9.0 staging:0.9.0]" {
		t.Fatalf("decision = %s %v, want a recall moving dev and staging to 0.9.0 (1.0.0 is recalled)", d.Decision, d.Rollback)
	}
}

func TestDecisionJSON(t *testing.T) {
	w := defaultWorld()
	ds := Evaluate(Input{Repo: w.repo(t), Now: now,
		Reports: map[string]*status.Report{"c1": healthy("c1", "1h"), "c2": healthy("c2", "10m")}})
	data, err := json.Marshal(find(t, ds, "staging"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"product":"web","from":"staging","to":"prod","version":"1.1.0","decision":"wait",` +
		`"reason":"canary: 1 of 2 required sites soaked 30m0s at least 90% healthy (2 running 1.1.0)",` +
		`"evidence":[{"site":"c1","soaked":"1h0m0s","healthyShare":1,"unhealthyShare":0},{"site":"c2","soaked":"10m0s","healthyShare":1,"unhealthyShare":0}],` +
		`"nextEvaluation":"2026-12-02T12:20:00Z","cause":"canary"}`
	if string(data) != want {
		t.Fatalf("json:\n%s\nwant\n%s", data, want)
	}
}
