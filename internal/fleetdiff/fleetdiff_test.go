package fleetdiff

import (
	"context"

	"bytes"
	"fmt"
	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/render"
	"strings"
	"testing"
	"testing/fstest"
)

// siteSummary is one line per changed product: "site product change from->to objects".
func siteSummary(r *Report) []string {
	var out []string
	for _, s := range r.Sites {
		if len(s.Products) == 0 {
			out = append(out, fmt.Sprintf("%s %s %s", s.Site, s.Change, strings.Join(s.Settings, "; ")))
		}
		for _, p := range s.Products {
			out = append(out, fmt.Sprintf("%s %s %s %s->%s %s", s.Site, p.Product, p.Change, p.From, p.To, p.objectSummary()))
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	base := genFleet(4) // site-000 dev (with a web Component), site-001 prod, site-002 dev, site-003 prod
	for _, tc := range []struct {
		name  string
		head  fstest.MapFS
		want  []string
		untch int
	}{{
		name:  "nothing",
		head:  with(base, map[string]*fstest.MapFile{"README.md": file("x")}),
		untch: 4,
	}, {
		name: "channel bump reaches only that channel's sites",
		head: with(base, map[string]*fstest.MapFile{"channels/web.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {dev: 1.1.0, prod: 1.1.0}\n")}),
		want: []string{
			"site-001 web upgraded 1.0.0->1.1.0 2 changed",
			"site-003 web upgraded 1.0.0->1.1.0 2 changed",
		},
		untch: 2,
	}, {
		name: "downgrade",
		head: with(base, map[string]*fstest.MapFile{"channels/web.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {dev: 1.0.0, prod: 1.0.0}\n")}),
		want: []string{
			"site-000 web downgraded 1.1.0->1.0.0 2 changed",
			"site-002 web downgraded 1.1.0->1.0.0 2 changed",
		},
		untch: 2,
	}, {
		name: "label change targets and drops",
		head: with(base, map[string]*fstest.MapFile{
			"sites/site-002/site.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: site-002, labels: {class: prod}}\nspec: {channel: dev}\n"),
			"sites/site-003/site.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: site-003, labels: {class: dev}}\nspec: {channel: prod}\n"),
		}),
		want: []string{
			"site-002 db targeted ->3.0.0 2 created",
			"site-003 db dropped 3.0.0-> 2 deleted",
		},
		untch: 2,
	}, {
		name: "a product no longer on a channel is not deployed",
		head: with(base, map[string]*fstest.MapFile{"channels/agent.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: agent}\nspec: {prod: 0.1.0}\n")}),
		want: []string{
			"site-000 agent not deployed 0.1.0-> 2 deleted",
			"site-002 agent not deployed 0.1.0-> 2 deleted",
		},
		untch: 2,
	}, {
		name: "a dependency below its minimum holds the product back",
		head: with(base, map[string]*fstest.MapFile{
			"products/db/product.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: db}\nspec:\n  targets: \"site.labels.class == 'prod'\"\n  namespace: db\n  dependencies: [{product: web, minVersion: 1.1.0}]\n"),
		}),
		want: []string{
			"site-001 db held 3.0.0->3.0.0 ",
			"site-003 db held 3.0.0->3.0.0 ",
		},
		untch: 2,
	}, {
		name:  "a site Component changes one site",
		head:  with(base, map[string]*fstest.MapFile{"sites/site-000/products/web/replicas.yaml": file("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n")}),
		want:  []string{"site-000 web manifests 1.1.0->1.1.0 1 changed"},
		untch: 3,
	}, {
		name: "a conflict strategy is a settings change",
		head: with(base, map[string]*fstest.MapFile{
			"sites/site-001/site.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: site-001, labels: {class: prod}}\nspec: {channel: prod, conflictStrategy: manual}\n"),
		}),
		want: []string{
			"site-001 agent settings 0.1.0->0.1.0 ",
			"site-001 db settings 3.0.0->3.0.0 ",
			"site-001 web settings 1.0.0->1.0.0 ",
		},
		untch: 3,
	}, {
		name: "a new site and a removed one",
		head: with(base, map[string]*fstest.MapFile{
			"sites/site-003/site.yaml": nil,
			"sites/site-009/site.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: site-009, labels: {class: dev}}\nspec: {channel: dev}\n"),
		}),
		want: []string{
			"site-003 removed sites/site-003/site.yaml is removed: syncd at this site stops with an error and prunes nothing",
			"site-009 agent targeted ->0.1.0 2 created",
			"site-009 web targeted ->1.1.0 2 created",
		},
		untch: 3,
	}, {
		name: "a release that stops rendering fails and changes nothing",
		head: with(base, map[string]*fstest.MapFile{"products/agent/releases/0.1.0/kustomization.yaml": file("resources: [deploy.yaml, missing.yaml]\n")}),
		want: []string{
			"site-000 agent failing 0.1.0->0.1.0 ",
			"site-001 agent failing 0.1.0->0.1.0 ",
			"site-002 agent failing 0.1.0->0.1.0 ",
			"site-003 agent failing 0.1.0->0.1.0 ",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := compare(t, base, tc.head, Options{})
			got := siteSummary(r)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if r.Untouched != tc.untch {
				t.Errorf("untouched = %d, want %d", r.Untouched, tc.untch)
			}
			if r.Changed() != (len(tc.want) > 0) {
				t.Errorf("Changed() = %t", r.Changed())
			}
		})
	}
}

func TestCompareHeadProblemsAreReported(t *testing.T) {
	base := genFleet(2)
	head := with(base, map[string]*fstest.MapFile{"products/agent/releases/0.1.0/kustomization.yaml": file("resources: [deploy.yaml, missing.yaml]\n")})
	r, _ := compare(t, base, head, Options{})
	if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0], "products/agent/releases/0.1.0/kustomization.yaml:1: resources[1]:") {
		t.Fatalf("problems = %q", r.Problems)
	}
	// The same problem at both revisions is the base's, not the change's.
	r, _ = compare(t, head, head, Options{})
	if len(r.BaseProblems) != 1 || r.Changed() {
		t.Fatalf("unchanged broken repo: changed=%t base problems %q", r.Changed(), r.BaseProblems)
	}
}

func TestCompareMasksSecrets(t *testing.T) {
	base := genFleet(2)
	head := with(base, map[string]*fstest.MapFile{
		"products/agent/releases/0.1.0/secret.yaml": file("apiVersion: v1\nkind: Secret\nmetadata: {name: agent}\nstringData: {password: correct-horse, token: s3cr3t}\n"),
	})
	r, _ := compare(t, base, head, Options{Diffs: true, BaseName: "main", HeadName: "pr"})
	for _, format := range Formats {
		var out bytes.Buffer
		if err := Write(&out, r, format); err != nil {
			t.Fatal(err)
		}
		for _, value := range []string{"hunter2", "correct-horse", "s3cr3t"} {
			if strings.Contains(out.String(), value) {
				t.Errorf("-o %s shows the secret value %q:\n%s", format, value, out.String())
			}
		}
		if !strings.Contains(out.String(), "password: '*** (after)'") || !strings.Contains(out.String(), "token: '***'") {
			t.Errorf("-o %s does not show which keys changed:\n%s", format, out.String())
		}
	}
}

// TestCompareRendersOnlyWhatChanged is the render cache at work: a change
// to one product's release renders that release once (it has no site
// Component), not the fleet again.
func TestCompareRendersOnlyWhatChanged(t *testing.T) {
	base := genFleet(50)
	head := with(base, map[string]*fstest.MapFile{
		"products/db/releases/3.0.0/deploy.yaml": file("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db}\nspec: {replicas: 5, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: db}]}}}\n"),
	})
	cache := render.NewCache()
	if _, err := fleetplan.Plan(context.Background(), base, fleetplan.Options{Revision: "base", Cache: cache}); err != nil {
		t.Fatal(err)
	}
	before := cache.Builds()
	if _, err := fleetplan.Plan(context.Background(), head, fleetplan.Options{Revision: "head", Cache: cache}); err != nil {
		t.Fatal(err)
	}
	if got := cache.Builds() - before; got != 1 {
		t.Fatalf("head rendered %d releases, want 1", got)
	}
}

func TestWriteFormats(t *testing.T) {
	r := &Report{Base: "main (aaa)", Head: "pr (bbb)", Untouched: 7, Sites: []SiteChange{{
		Site: "edge-1", Change: SiteChanged, Settings: []string{"labels: +tier=<gold>"},
		Products: []ProductChange{{Product: "web", Change: Upgraded, From: "1.0.0", To: "1.1.0", Objects: []ObjectChange{
			{Object: "Deployment/web/web", Action: ObjectChanged, Diff: "--- a\n+++ b\n-x\n+y\n"},
			{Object: "ConfigMap/web/new", Action: ObjectCreated},
		}}},
	}}}
	var md bytes.Buffer
	if err := Write(&md, r, FormatMarkdown); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| edge-1 | web | upgraded | 1.0.0 → 1.1.0 | 1 created, 1 changed |",
		"<details>\n<summary><b>edge-1</b> (changed): web upgraded</summary>",
		"- labels: +tier=&lt;gold&gt;",
		"  ```diff\n  --- a\n",
		"**1 site changes, 7 untouched**",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if err := Write(&md, r, "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}
