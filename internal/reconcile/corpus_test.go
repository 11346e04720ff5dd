package reconcile

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/render"
)

// The bad-input corpus: small mutations of the good fleet in
// testdata/corpus, each synced after a good sync against a real API server.
// Every mutation must be refused with an error naming the file, the line and
// the field, must delete nothing, and must leave the products it does not
// concern in sync (they still get the update made in the same commit).

// corpusSite is the site of testdata/corpus.
const corpusSite = "corpus"

// corpusProducts are the products of testdata/corpus; worker depends on api.
var corpusProducts = []string{"api", "cache", "web", "worker"}

// edit is one change to a file of the good fleet.
type edit struct {
	// file is the repo-relative path changed.
	file string
	// old, when set, is replaced by new (it must occur in the file); when
	// empty, new is the whole content of file.
	old, new string
	// remove deletes file (a file or a directory).
	remove bool
	// link makes file a symlink to link.
	link string
	// size, when set, makes file a YAML file of that many bytes.
	size int
}

// corpusCase is one broken fleet repo.
type corpusCase struct {
	name  string
	edits []edit
	// blocked are the products the mutation blocks (with the products that
	// depend on them); all blocks the whole site: nothing may be applied.
	blocked []string
	all     bool
	// want are substrings of the error; the first names FILE:LINE (a path
	// and a line) unless noLine says no line applies.
	want   []string
	noLine bool
}

func replace(file, old, new string) edit { return edit{file: file, old: old, new: new} }
func write(file, content string) edit    { return edit{file: file, new: content} }
func remove(file string) edit            { return edit{file: file, remove: true} }

const (
	fleetFile   = "fleet.yaml"
	siteFile    = "sites/corpus/site.yaml"
	webProduct  = "products/web/product.yaml"
	webChannels = "channels/web.yaml"
	webRelease  = "products/web/releases/1.0.0"
	webDeploy   = webRelease + "/deployment.yaml"
	webKust     = webRelease + "/kustomization.yaml"
	webRelYAML  = webRelease + "/release.yaml"
	apiComp     = "sites/corpus/products/api/kustomization.yaml"
)

var web = []string{"web"}

var corpusCases = []corpusCase{
	// fleet.yaml: the whole site stops.
	{name: "fleet-malformed-yaml", edits: []edit{replace(fleetFile, "  channels: [dev, prod]", "  channels: [dev, prod")}, all: true,
		want: []string{"fleet.yaml:5:", "invalid YAML"}},
	{name: "fleet-wrong-kind", edits: []edit{replace(fleetFile, "kind: Fleet", "kind: Fleets")}, all: true,
		want: []string{"fleet.yaml:2: kind:", `must be "Fleet"`}},
	{name: "fleet-wrong-apiVersion", edits: []edit{replace(fleetFile, "syncd.dev/v1alpha1", "syncd.dev/v1")}, all: true,
		want: []string{"fleet.yaml:1: apiVersion:", `"syncd.dev/v1"`}},
	{name: "fleet-unknown-field", edits: []edit{replace(fleetFile, "  conflictStrategy:", "  conflictStrategyy:")}, all: true,
		want: []string{"fleet.yaml:6: spec.conflictStrategyy:", "unknown field"}},
	{name: "fleet-duplicate-key", edits: []edit{replace(fleetFile, "  conflictStrategy: git_wins\n", "  conflictStrategy: git_wins\n  conflictStrategy: manual\n")}, all: true,
		want: []string{"fleet.yaml:7: spec.conflictStrategy:", "duplicate"}},
	{name: "fleet-bad-strategy", edits: []edit{replace(fleetFile, "git_wins", "git_win")}, all: true,
		want: []string{"fleet.yaml:6: spec.conflictStrategy:", `"git_win"`}},
	{name: "fleet-duplicate-channel", edits: []edit{replace(fleetFile, "[dev, prod]", "[dev, prod, dev]")}, all: true,
		want: []string{"fleet.yaml:5: spec.channels[2]:", "dev"}},
	{name: "fleet-bad-cron", edits: []edit{replace(fleetFile, `"0 6 * * 1-5"`, `"0 25 * * 1-5"`)}, all: true,
		want: []string{"fleet.yaml:15: spec.pipelines[0].maintenanceWindow.schedule:"}},
	{name: "fleet-bad-duration", edits: []edit{replace(fleetFile, "duration: 16h", "duration: 16 hours")}, all: true,
		want: []string{"fleet.yaml:15: spec.pipelines[0].maintenanceWindow.duration:"}},
	{name: "fleet-bad-policy-cel", edits: []edit{replace(fleetFile, "object.kind != 'Deployment' ||", "object.kind != 'Deployment' ||| ")}, all: true,
		want: []string{"fleet.yaml:11: spec.policies[0].rule:"}},
	{name: "fleet-policy-cel-not-bool", edits: []edit{replace(fleetFile, `rule: "object.kind != 'Deployment' || object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))"`, `rule: "object.kind"`)}, all: true,
		want: []string{"fleet.yaml:11: spec.policies[0].rule:", "bool"}},
	{name: "fleet-bad-severity", edits: []edit{replace(fleetFile, "severity: block", "severity: fatal")}, all: true,
		want: []string{"fleet.yaml:12: spec.policies[0].severity:", `"fatal"`}},
	{name: "fleet-stage-unknown-channel", edits: []edit{replace(fleetFile, "{from: dev, to: prod", "{from: dev, to: qa")}, all: true,
		want: []string{"fleet.yaml:17: spec.pipelines[0].stages[0].to:", `"qa"`}},
	{name: "fleet-threshold-out-of-range", edits: []edit{replace(fleetFile, "healthyThreshold: 0.95", "healthyThreshold: 1.5")}, all: true,
		want: []string{"fleet.yaml:8: spec.criteria.healthyThreshold:"}},
	{name: "fleet-rollout-negative", edits: []edit{replace(fleetFile, "maxSitesPercentPerHour: 100", "maxSitesPercentPerHour: -5")}, all: true,
		want: []string{"fleet.yaml:7: spec.rollout.maxSitesPercentPerHour:"}},
	{name: "fleet-two-documents", edits: []edit{replace(fleetFile, "apiVersion: syncd.dev/v1alpha1\n", "apiVersion: syncd.dev/v1alpha1\n---\n")}, all: true,
		want: []string{"fleet.yaml:"}},
	{name: "fleet-wrong-type", edits: []edit{replace(fleetFile, "[dev, prod]", "dev")}, all: true,
		want: []string{"fleet.yaml:5: spec.channels:"}},

	// The site's own files: the whole site stops.
	{name: "site-malformed-yaml", edits: []edit{replace(siteFile, "  channel: prod", "  channel: 'prod")}, all: true,
		want: []string{siteFile + ":", "invalid YAML"}},
	{name: "site-wrong-kind", edits: []edit{replace(siteFile, "kind: Site", "kind: Product")}, all: true,
		want: []string{siteFile + ":2: kind:"}},
	{name: "site-unknown-field", edits: []edit{replace(siteFile, "  channel: prod", "  chanel: prod")}, all: true,
		want: []string{siteFile + ":7: spec.chanel:", "unknown field"}},
	{name: "site-duplicate-key", edits: []edit{replace(siteFile, "  channel: prod\n", "  channel: prod\n  channel: dev\n")}, all: true,
		want: []string{siteFile + ":8: spec.channel:", "duplicate"}},
	{name: "site-undeclared-channel", edits: []edit{replace(siteFile, "  channel: prod", "  channel: qa")}, all: true,
		want: []string{siteFile + ":7: spec.channel:", `"qa"`}},
	{name: "site-bad-cron", edits: []edit{replace(siteFile, "  channel: prod\n", "  channel: prod\n  maintenanceWindows: [{schedule: \"every day\", duration: 1h}]\n")}, all: true,
		want: []string{siteFile + ":8: spec.maintenanceWindows[0].schedule:"}},
	{name: "site-bad-rule-strategy", edits: []edit{replace(siteFile, "strategy: server_wins", "strategy: server")}, all: true,
		want: []string{siteFile + ":9: spec.conflictRules[0].strategy:"}},
	{name: "site-bad-rule-path", edits: []edit{replace(siteFile, "path: /spec/replicas", "path: spec/replicas")}, all: true,
		want: []string{siteFile + ":9: spec.conflictRules[0].path:", "JSON pointer"}},
	{name: "site-bad-max-version", edits: []edit{replace(siteFile, "maxVersion: 1.99.99", "maxVersion: 1.x")}, all: true,
		want: []string{siteFile + ":11: spec.products[worker].maxVersion:", `"1.x"`}},
	{name: "site-override-unknown-product", edits: []edit{replace(siteFile, "    worker:", "    wroker:")}, all: true,
		want: []string{siteFile + ":11: spec.products[wroker]:"}},
	{name: "site-name-mismatch", edits: []edit{replace(siteFile, "  name: corpus", "  name: corpus-2")}, all: true,
		want: []string{siteFile + ":4: metadata.name:"}},
	{name: "site-bad-label", edits: []edit{replace(siteFile, "region: eu", "region: eu west")}, all: true,
		want: []string{siteFile + ":5: metadata.labels[region]:"}},
	{name: "site-component-without-kustomization", edits: []edit{remove(apiComp), write("sites/corpus/products/api/patch.yaml", "a: b\n")}, all: true,
		want: []string{"sites/corpus/products/api", "kustomization"}, noLine: true},

	// A site Component: only its product (and what depends on it) stops.
	{name: "component-malformed-yaml", edits: []edit{replace(apiComp, "commonAnnotations:\n", "commonAnnotations: [\n")}, blocked: []string{"api", "worker"},
		want: []string{apiComp + ":"}},

	// product.yaml: only that product stops.
	{name: "product-malformed-yaml", edits: []edit{replace(webProduct, "  namespace: corpus-web", "  namespace: corpus-web: x")}, blocked: web,
		want: []string{webProduct + ":8:", "invalid YAML"}},
	{name: "product-wrong-kind", edits: []edit{replace(webProduct, "kind: Product", "kind: Release")}, blocked: web,
		want: []string{webProduct + ":2: kind:"}},
	{name: "product-wrong-apiVersion", edits: []edit{replace(webProduct, "syncd.dev/v1alpha1", "syncd.dev/v1beta1")}, blocked: web,
		want: []string{webProduct + ":1: apiVersion:"}},
	{name: "product-unknown-field", edits: []edit{replace(webProduct, "  namespace:", "  namepsace:")}, blocked: web,
		want: []string{webProduct + ":8: spec.namepsace:", "unknown field"}},
	{name: "product-duplicate-key", edits: []edit{replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  namespace: corpus-other\n")}, blocked: web,
		want: []string{webProduct + ":9: spec.namespace:", "duplicate"}},
	{name: "product-bad-targets-cel", edits: []edit{replace(webProduct, "site.labels.class == 'prod'", "site.labels.class = 'prod'")}, blocked: web,
		want: []string{webProduct + ":7: spec.targets:"}},
	{name: "product-targets-not-bool", edits: []edit{replace(webProduct, "site.labels.class == 'prod'", "site.labels.class")}, blocked: web,
		want: []string{webProduct + ":7: spec.targets:", "bool"}},
	{name: "product-targets-runtime-error", edits: []edit{replace(webProduct, "site.labels.class == 'prod'", "site.labels.tier == 'prod'")}, blocked: web,
		want: []string{webProduct + ":7: spec.targets:", "tier"}},
	{name: "product-bad-namespace", edits: []edit{replace(webProduct, "namespace: corpus-web", "namespace: Corpus_Web")}, blocked: web,
		want: []string{webProduct + ":8: spec.namespace:", "Corpus_Web"}},
	{name: "product-name-mismatch", edits: []edit{replace(webProduct, "  name: web", "  name: webb")}, blocked: web,
		want: []string{webProduct + ":4: metadata.name:"}},
	{name: "product-bad-strategy", edits: []edit{replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  conflictStrategy: winner\n")}, blocked: web,
		want: []string{webProduct + ":9: spec.conflictStrategy:", `"winner"`}},
	{name: "product-unknown-dependency", edits: []edit{replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  dependencies: [{product: nosuch}]\n")}, blocked: web,
		want: []string{webProduct + ":9: spec.dependencies[0].product:", `"nosuch"`}},
	{name: "product-dependency-bad-semver", edits: []edit{replace("products/worker/product.yaml", "minVersion: 1.0.0", "minVersion: 1.0.0.1")}, blocked: []string{"worker"},
		want: []string{"products/worker/product.yaml:10: spec.dependencies[0].minVersion:", `"1.0.0.1"`}},
	{name: "product-dependency-cycle", edits: []edit{
		replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  dependencies: [{product: cache}]\n"),
		replace("products/cache/product.yaml", "  namespace: corpus-cache\n", "  namespace: corpus-cache\n  dependencies: [{product: web}]\n")},
		blocked: []string{"web", "cache"},
		want:    []string{"products/cache/product.yaml:9: spec.dependencies:", "dependency cycle: cache -> web -> cache"}},
	{name: "product-unknown-signing-key", edits: []edit{replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  signing: {keys: [release-key]}\n")}, blocked: web,
		want: []string{webProduct + ":9: spec.signing.keys[0]:", `"release-key"`}},
	{name: "product-bad-health-cel", edits: []edit{replace(webProduct, "  namespace: corpus-web\n", "  namespace: corpus-web\n  healthChecks:\n    - {kind: Deployment, current: \"status.ready ==\"}\n")}, blocked: web,
		want: []string{webProduct + ":10: spec.healthChecks[0].current:"}},
	{name: "product-missing", edits: []edit{remove(webProduct)}, blocked: web,
		want: []string{webProduct, "not found"}, noLine: true},

	// channels/<product>.yaml: only that product stops.
	{name: "channel-missing-release", edits: []edit{replace(webChannels, "prod: 1.0.0", "prod: 1.2.0")}, blocked: web,
		want: []string{webChannels + ":4: spec[prod]:", "no release 1.2.0"}},
	{name: "channel-bad-semver", edits: []edit{replace(webChannels, "prod: 1.0.0", "prod: v1.0")}, blocked: web,
		want: []string{webChannels + ":4: spec[prod]:", `"v1.0"`}},
	{name: "channel-undeclared-channel", edits: []edit{replace(webChannels, "dev: 1.0.0", "qa: 1.0.0")}, blocked: web,
		want: []string{webChannels + ":4: spec[qa]:", `"qa"`}},
	{name: "channel-wrong-kind", edits: []edit{replace(webChannels, "kind: Channels", "kind: Channel")}, blocked: web,
		want: []string{webChannels + ":2: kind:"}},
	{name: "channel-name-mismatch", edits: []edit{replace(webChannels, "{name: web}", "{name: api}")}, blocked: web,
		want: []string{webChannels + ":3: metadata.name:"}},
	{name: "channel-malformed-yaml", edits: []edit{replace(webChannels, "spec: {dev: 1.0.0, prod: 1.0.0}", "spec: {dev: 1.0.0, prod: 1.0.0")}, blocked: web,
		want: []string{webChannels + ":", "invalid YAML"}},
	{name: "channel-misnamed-yml", edits: []edit{remove(webChannels), write("channels/web.yml", "apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {prod: 1.0.0}\n")}, blocked: web,
		want: []string{"channels/web.yml", "channels/<product>.yaml"}, noLine: true},

	// A release's own files: only that product stops.
	{name: "release-dir-bad-semver", edits: []edit{write("products/web/releases/1.1/kustomization.yaml", "resources: []\n")}, blocked: web,
		want: []string{"products/web/releases/1.1", "semantic version"}, noLine: true},
	{name: "release-yaml-unknown-field", edits: []edit{replace(webRelYAML, "recalled: false", "recaled: false")}, blocked: web,
		want: []string{webRelYAML + ":4: spec.recaled:", "unknown field"}},
	{name: "release-yaml-name-mismatch", edits: []edit{replace(webRelYAML, "name: web-1.0.0", "name: web-1.0.1")}, blocked: web,
		want: []string{webRelYAML + ":3: metadata.name:"}},
	{name: "release-without-kustomization", edits: []edit{remove(webKust)}, blocked: web,
		want: []string{webRelease, "no kustomization.yaml"}, noLine: true},
	{name: "release-kustomization-malformed", edits: []edit{replace(webKust, "  - namespace.yaml\n", "  - namespace.yaml\n  -- configmap.yaml: [\n")}, blocked: web,
		want: []string{webKust + ":"}},
	{name: "release-kustomization-unknown-field", edits: []edit{replace(webKust, "resources:", "resorces:")}, blocked: web,
		want: []string{webKust + ":3:", "resorces"}},
	{name: "release-kustomization-missing-resource", edits: []edit{replace(webKust, "  - deployment.yaml", "  - deployment.yml")}, blocked: web,
		want: []string{webKust + ":6:", "deployment.yml"}},
	{name: "release-manifest-malformed-yaml", edits: []edit{replace(webDeploy, "  replicas: 1", "  replicas: [1")}, blocked: web,
		want: []string{webDeploy + ":"}},
	{name: "release-manifest-bad-indentation", edits: []edit{replace(webDeploy, "    matchLabels: {app: web}", "\tmatchLabels: {app: web}")}, blocked: web,
		want: []string{webDeploy + ":8:"}},
	{name: "release-manifest-duplicate-key", edits: []edit{replace(webDeploy, "  replicas: 1\n", "  replicas: 1\n  replicas: 2\n")}, blocked: web,
		want: []string{webDeploy + ":7:", "replicas"}},
	{name: "release-manifest-wrong-kind", edits: []edit{replace(webDeploy, "kind: Deployment", "kind: Deploymnet")}, blocked: web,
		want: []string{webDeploy + ":2:", "Deploymnet"}},
	{name: "release-manifest-wrong-apiVersion", edits: []edit{replace(webDeploy, "apiVersion: apps/v1", "apiVersion: apps/v2")}, blocked: web,
		want: []string{webDeploy + ":1:", "apps/v2"}},
	{name: "release-manifest-unknown-field", edits: []edit{replace(webDeploy, "  replicas: 1", "  replicaz: 1")}, blocked: web,
		want: []string{webDeploy + ":6:", "replicaz"}},
	{name: "release-manifest-wrong-type", edits: []edit{replace(webDeploy, "  replicas: 1", "  replicas: three")}, blocked: web,
		want: []string{webDeploy + ":6:", "replicas"}},
	{name: "release-manifest-invalid-value", edits: []edit{replace(webDeploy, "    matchLabels: {app: web}", "    matchLabels: {app: other}")}, blocked: web,
		want: []string{webDeploy + ":", "selector"}},
	{name: "release-manifest-missing-name", edits: []edit{replace("products/web/releases/1.0.0/configmap.yaml", "  name: web-config\n", "")}, blocked: web,
		want: []string{"products/web/releases/1.0.0/configmap.yaml:3: metadata.name: required"}},
	{name: "release-policy-violation", edits: []edit{replace(webDeploy, "registry.example.com/web:1.0.0", "registry.example.com/web:latest")}, blocked: web,
		want: []string{webDeploy + ":15:", "no-latest"}},
	{name: "release-symlink-escape", edits: []edit{remove(webDeploy), {file: webDeploy, link: "../../../../../../../../etc/hostname"}}, blocked: web,
		want: []string{webDeploy, "outside the repo"}, noLine: true},
	{name: "release-file-over-size-limit", edits: []edit{{file: webRelease + "/big.yaml", size: 16<<20 + 1}}, blocked: web,
		want: []string{webRelease + "/big.yaml", "limit"}, noLine: true},
	{name: "release-object-of-another-product", edits: []edit{write(webRelease+"/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\n  namespace: corpus-api\ndata:\n  rev: stolen\n")}, blocked: web,
		want: []string{webRelease + "/configmap.yaml:4:", "api"}},
	// Any product may render cluster-scoped objects (docs/fleet-repo.md);
	// a namespace written on one is refused.
	{name: "release-cluster-scoped-object-with-namespace", edits: []edit{
		write(webRelease+"/role.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: corpus-web-admin\n  namespace: corpus-web\nrules: []\n"),
		replace(webKust, "  - deployment.yaml", "  - deployment.yaml\n  - role.yaml")}, blocked: web,
		want: []string{webRelease + "/role.yaml:5: metadata.namespace:", "cluster-scoped"}},
	{name: "release-too-many-objects", edits: []edit{manyObjects(webRelease, 5001), replace(webKust, "  - deployment.yaml", "  - deployment.yaml\n  - many.yaml")}, blocked: web,
		want: []string{webRelease, "objects"}, noLine: true},
}

// manyObjects writes dir/many.yaml with n ConfigMaps.
func manyObjects(dir string, n int) edit {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: many-%d\n", i)
	}
	return write(dir+"/many.yaml", b.String())
}

// fileLine matches a repo path with a line: products/web/product.yaml:7.
var fileLine = regexp.MustCompile(`[\w.-]+(/[\w.<>-]+)*\.ya?ml:\d+`)

func TestBadInputCorpus(t *testing.T) {
	c := sharedCluster(t)
	start := time.Now()
	ctx := context.Background()
	r := newTestReconcilerWith(t, c, Config{Site: corpusSite, Namespace: "syncd-system", Progress: testWriter{t}})
	good := filepath.Join("testdata", "corpus")

	// The good sync.
	dir := copyFleet(t, good, "good")
	plan, err := r.Plan(ctx, os.DirFS(dir), "good", nil)
	if err != nil {
		t.Fatalf("planning the good fleet: %v", err)
	}
	rep, err := r.Sync(ctx, plan)
	if err != nil || rep.Err() != nil {
		t.Fatalf("syncing the good fleet: %v, %v", err, rep.Err())
	}
	baseline := corpusLive(t, c.Client)
	if len(baseline) != 3*len(corpusProducts) {
		t.Fatalf("after the good sync: %d objects, want %d: %v", len(baseline), 3*len(corpusProducts), baseline)
	}
	revs := map[string]string{} // the rev each product's ConfigMap has live
	for _, p := range corpusProducts {
		revs[p] = "good"
	}

	names := map[string]bool{}
	for _, tc := range corpusCases {
		if names[tc.name] {
			t.Fatalf("two cases named %s", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFleet(t, good, tc.name)
			for _, e := range tc.edits {
				applyEdit(t, dir, e)
			}
			// The same commit updates every product: those the mutation
			// does not concern must get it.
			for _, p := range corpusProducts {
				cm := filepath.Join(dir, "products", p, "releases", "1.0.0", "configmap.yaml")
				if data, err := os.ReadFile(cm); err == nil {
					writeFile(t, cm, strings.Replace(string(data), "rev: good", "rev: "+tc.name, 1))
				}
			}
			var msg string
			plan, err := r.Plan(ctx, os.DirFS(dir), tc.name, nil)
			if err != nil {
				msg = err.Error()
				if !tc.all {
					t.Errorf("planning failed for the whole site, want only %v blocked: %v", tc.blocked, err)
				}
			} else {
				rep, err := r.Sync(ctx, plan)
				if err != nil {
					t.Fatalf("Sync: %v", err)
				}
				if rep.Err() != nil {
					msg = rep.Err().Error()
				}
				for _, res := range rep.Results {
					if res.Pruned != 0 || res.Orphaned != 0 {
						t.Errorf("%s: pruned %d, orphaned %d; want nothing deleted", res.Product, res.Pruned, res.Orphaned)
					}
					isBlocked := tc.all || slices.Contains(tc.blocked, res.Product) || res.Product == "worker" && slices.Contains(tc.blocked, "api")
					if !isBlocked && (res.Err != nil || res.Note != "") && !strings.HasPrefix(res.Note, "Deployment") {
						t.Errorf("%s, which the mutation does not concern: %v (%s)", res.Product, res.Err, res.Note)
					}
				}
			}
			t.Logf("error: %s", msg)
			if msg == "" {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q", w)
				}
			}
			if !tc.noLine && !fileLine.MatchString(msg) {
				t.Errorf("error names no FILE:LINE")
			}
			// Nothing deleted or recreated.
			live := corpusLive(t, c.Client)
			for id, uid := range baseline {
				switch got, ok := live[id]; {
				case !ok:
					t.Errorf("%s was deleted", id)
				case got.uid != uid.uid:
					t.Errorf("%s was recreated", id)
				}
			}
			// The products the mutation does not concern are in sync.
			for _, p := range corpusProducts {
				got := live[p+"-config"].rev
				isBlocked := tc.all || slices.Contains(tc.blocked, p) || p == "worker" && slices.Contains(tc.blocked, "api")
				switch {
				case isBlocked && got != revs[p]:
					t.Errorf("%s-config has rev %q, want %q: a blocked product was applied", p, got, revs[p])
				case !isBlocked && got != tc.name:
					t.Errorf("%s-config has rev %q, want %q: the update of an unconcerned product was not applied", p, got, tc.name)
				}
				revs[p] = got
			}
		})
	}

	// The good fleet again: everything converges.
	dir = copyFleet(t, good, "final")
	plan, err = r.Plan(ctx, os.DirFS(dir), "final", nil)
	if err != nil {
		t.Fatalf("planning the good fleet again: %v", err)
	}
	if rep, err = r.Sync(ctx, plan); err != nil || rep.Err() != nil {
		t.Fatalf("syncing the good fleet again: %v, %v", err, rep.Err())
	}
	live := corpusLive(t, c.Client)
	for id := range baseline {
		if live[id].uid == "" {
			t.Errorf("%s missing after the final good sync", id)
		}
	}
	if len(live) != len(baseline) {
		t.Errorf("after the final good sync: %d objects, want %d", len(live), len(baseline))
	}
	t.Logf("%d cases in %s", len(corpusCases), time.Since(start).Round(time.Millisecond))
}

// liveObject is what the corpus checks of one live object.
type liveObject struct {
	uid string
	rev string // data.rev of a ConfigMap
}

// corpusLive returns the corpus site's live objects by name (ConfigMaps by
// their name, others as Kind/name).
func corpusLive(t *testing.T, c client.Client) map[string]liveObject {
	t.Helper()
	out := map[string]liveObject{}
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"}, {Version: "v1", Kind: "ConfigMap"}, {Group: "apps", Version: "v1", Kind: "Deployment"},
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(context.Background(), list, client.MatchingLabels{render.LabelSite: corpusSite}); err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			if o.GetNamespace() == "syncd-system" {
				continue // an inventory
			}
			id := gvk.Kind + "/" + o.GetName()
			rev, _, _ := unstructured.NestedString(o.Object, "data", "rev")
			if gvk.Kind == "ConfigMap" {
				id = o.GetName()
			}
			out[id] = liveObject{uid: string(o.GetUID()), rev: rev}
		}
	}
	return out
}

// copyFleet copies the fleet in src to a new directory.
func copyFleet(t *testing.T, src, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func applyEdit(t *testing.T, dir string, e edit) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(e.file))
	switch {
	case e.remove:
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("edit: %s: %v", e.file, err)
		}
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	case e.link != "":
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(e.link, p); err != nil {
			t.Fatal(err)
		}
	case e.size > 0:
		line := "# padding padding padding padding padding padding padding padding\n"
		data := []byte(strings.Repeat(line, e.size/len(line)+1)[:e.size])
		writeFile(t, p, string(data))
	case e.old != "":
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), e.old) {
			t.Fatalf("edit: %s does not contain %q", e.file, e.old)
		}
		writeFile(t, p, strings.Replace(string(data), e.old, e.new, 1))
	default:
		writeFile(t, p, e.new)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
