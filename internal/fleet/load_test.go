package fleet

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadBaseRepo(t *testing.T) {
	repo := mustLoad(t, mapFS(baseFiles(), nil))
	if repo.Fleet.Spec.ConflictStrategy != GitWins {
		t.Errorf("default conflictStrategy = %q, want %q", repo.Fleet.Spec.ConflictStrategy, GitWins)
	}
	if got := *repo.Fleet.Spec.Criteria.HealthyThreshold; got != DefaultHealthyThreshold {
		t.Errorf("default healthyThreshold = %v, want %v", got, DefaultHealthyThreshold)
	}
	auth := repo.Products["auth"]
	if auth == nil || len(auth.Releases) != 2 || auth.Channels == nil {
		t.Fatalf("product auth = %+v, want 2 releases and channels", auth)
	}
	if got := auth.Releases[0].Dir; got != "products/auth/releases/1.0.0" {
		t.Errorf("Releases[0].Dir = %q", got)
	}
	if _, ok := repo.Keys["trusted"]; !ok {
		t.Error("key trusted not loaded")
	}
}

// TestLoadProblems checks that each kind of mistake is reported with its
// file, line and field.
func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]string
		want    []string
	}{
		{
			name: "unknown field",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: prod
  chanel: dev
`},
			want: []string{`sites/s1/site.yaml:7: spec.chanel: unknown field "chanel"`},
		},
		{
			name: "unknown field in a list item",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: prod
  conflictRules:
    - kind: Deployment
      stratgy: manual
`},
			want: []string{`sites/s1/site.yaml:9: spec.conflictRules[0].stratgy: unknown field "stratgy"`},
		},
		{
			name: "wrong kind",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: auth
`},
			want: []string{`products/auth/product.yaml:2: kind: must be "Product", got "Site"`},
		},
		{
			name: "wrong apiVersion and missing kind",
			changes: map[string]string{"channels/auth.yaml": `apiVersion: syncd.dev/v1
metadata:
  name: auth
`},
			want: []string{
				`channels/auth.yaml:1: apiVersion: must be "syncd.dev/v1alpha1", got "syncd.dev/v1"`,
				`channels/auth.yaml:1: kind: required: must be "Channels"`,
			},
		},
		{
			name: "name does not match directory",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s2
spec:
  channel: prod
`},
			want: []string{`sites/s1/site.yaml:4: metadata.name: must be "s1" to match the file's path, got "s2"`},
		},
		{
			name:    "directory name is not a DNS-1123 label",
			changes: map[string]string{"sites/Store_1/site.yaml": "kind: Site\n"},
			want:    []string{`sites/Store_1: directory name: invalid name "Store_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		},
		{
			name: "invalid label",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
  labels:
    class: "prod env"
spec:
  channel: prod
`},
			want: []string{`sites/s1/site.yaml:6: metadata.labels[class]: invalid label value "prod env": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		},
		{
			name: "bad semver in channels",
			changes: map[string]string{"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  dev: "1.1"
  prod: v1.0.0
`},
			want: []string{
				`channels/auth.yaml:6: spec[dev]: invalid version "1.1": must be a semantic version such as 1.2.3`,
				`channels/auth.yaml:7: spec[prod]: invalid version "v1.0.0": must be a semantic version such as 1.2.3`,
			},
		},
		{
			name: "unquoted number where a version is expected",
			changes: map[string]string{"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  dev: 1.1
`},
			want: []string{`channels/auth.yaml:6: spec[dev]: must be a string, got a number (quote the value)`},
		},
		{
			name:    "bad semver release directory",
			changes: map[string]string{"products/auth/releases/1.2/kustomization.yaml": kustomization},
			want:    []string{`products/auth/releases/1.2: release directory name: invalid version "1.2": must be a semantic version such as 1.2.3`},
		},
		{
			name:    "release directory without kustomization",
			changes: map[string]string{"products/auth/releases/1.2.0/deployment.yaml": "kind: Deployment\n"},
			want:    []string{`products/auth/releases/1.2.0: no kustomization.yaml: a release or component directory is a kustomize directory`},
		},
		{
			name: "channel points to a missing release",
			changes: map[string]string{"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  dev: 1.2.0
`},
			want: []string{`channels/auth.yaml:6: spec[dev]: no release 1.2.0 (no products/auth/releases/1.2.0/)`},
		},
		{
			name: "bad cron",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: prod
  maintenanceWindows:
    - schedule: "61 * * * *"
      duration: 4h
    - schedule: "CRON_TZ=UTC"
      duration: 0s
`},
			want: []string{
				`sites/s1/site.yaml:8: spec.maintenanceWindows[0].schedule: invalid schedule "61 * * * *": end of range (61) above maximum (59): 61`,
				`sites/s1/site.yaml:10: spec.maintenanceWindows[1].schedule: invalid schedule "CRON_TZ=UTC": time zone must be followed by a schedule`,
				`sites/s1/site.yaml:11: spec.maintenanceWindows[1].duration: required: must be a positive duration such as 4h`,
			},
		},
		{
			name: "bad duration",
			changes: map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  pipelines:
    - product: "*"
      stages:
        - from: dev
          to: staging
          timed: {duration: 1d}
`},
			want: []string{`fleet.yaml:12: spec.pipelines[0].stages[0].timed.duration: invalid duration "1d": use a number with unit h, m or s, such as 30m or 1h30m`},
		},
		{
			name: "policies",
			changes: map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  policies:
    - name: pinned
      scope: "site.label.class == 'prod'"
      rule: |
        object.kind != 'Deployment' ||
          object.spec.template.spec.containers.all(c, c.image.contans('@sha256:'))
      severity: warn
    - name: pinned
      rule: "size(object)"
      severity: deny
    - name: Bad_Name
`},
			want: []string{
				`fleet.yaml:9: spec.policies[0].scope: undefined field 'label'`,
				`fleet.yaml:12: spec.policies[0].rule: undeclared reference to 'contans'`,
				`fleet.yaml:14: spec.policies[1].name: duplicate policy "pinned"`,
				`fleet.yaml:15: spec.policies[1].rule: must evaluate to a bool, got int`,
				`fleet.yaml:16: spec.policies[1].severity: must be "block" or "warn", got "deny"`,
				`fleet.yaml:17: spec.policies[2].name: invalid name "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`fleet.yaml:17: spec.policies[2].rule: required: a CEL expression over object and site, true when the object meets the policy`,
			},
		},
		{
			name: "unknown policy field",
			changes: map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  policies:
    - name: extra
      rule: "true"
      sevrity: block
`},
			want: []string{`fleet.yaml:10: spec.policies[0].sevrity: unknown field "sevrity"`},
		},
		{
			name: "bad CEL",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
  labels: {owner: team-identity}
spec:
  targets: "sit.labels.class == 'prod'"
`},
			want: []string{`products/auth/product.yaml:7: spec.targets: undeclared reference to 'sit'`},
		},
		{
			name: "CEL error in a multi-line expression is reported at its line",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  targets: |
    site.labels.class == 'prod' &&
      site.lables.region == 'us-east-1'
`},
			want: []string{`products/auth/product.yaml:8: spec.targets: undefined field 'lables'`},
		},
		{
			name: "CEL expression that is not a bool",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  targets: "site.name"
`},
			want: []string{`products/auth/product.yaml:6: spec.targets: must evaluate to a bool, got string`},
		},
		{
			name: "bad health check",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  healthChecks:
    - kind: Widget
      current: "object.status.phase = 'Ready'"
    - apiVersion: v1
`},
			want: []string{
				`products/auth/product.yaml:8: spec.healthChecks[0].current: Syntax error: extraneous input ''Ready'' expecting <EOF>`,
				`products/auth/product.yaml:8: spec.healthChecks[0].current: Syntax error: token recognition error at: '= '`,
				`products/auth/product.yaml:9: spec.healthChecks[1]: at least one of current and failed is required`,
				`products/auth/product.yaml:9: spec.healthChecks[1].kind: required`,
			},
		},
		{
			name: "undeclared channels",
			changes: map[string]string{
				"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: production
  products:
    auth: {channel: canary, maxVersion: 1.x}
`,
				"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
spec:
  qa: 1.0.0
`,
			},
			want: []string{
				`channels/auth.yaml:6: spec[qa]: channel "qa" is not declared in fleet.yaml (declared: dev, staging, prod)`,
				`sites/s1/site.yaml:6: spec.channel: channel "production" is not declared in fleet.yaml (declared: dev, staging, prod)`,
				`sites/s1/site.yaml:8: spec.products[auth].channel: channel "canary" is not declared in fleet.yaml (declared: dev, staging, prod)`,
				`sites/s1/site.yaml:8: spec.products[auth].maxVersion: invalid version "1.x": must be a semantic version such as 1.2.3`,
			},
		},
		{
			name: "conflict strategies",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: prod
  conflictStrategy: gitwins
  conflictRules:
    - {kind: Deployment, path: spec/replicas}
`},
			want: []string{
				`sites/s1/site.yaml:7: spec.conflictStrategy: must be one of git_wins, server_wins, manual, got "gitwins"`,
				`sites/s1/site.yaml:9: spec.conflictRules[0].path: invalid JSON pointer "spec/replicas": must start with /`,
				`sites/s1/site.yaml:9: spec.conflictRules[0].strategy: required: one of git_wins, server_wins, manual`,
			},
		},
		{
			name: "wrong types",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
  labels:
    canary: true
spec:
  channel: [prod]
  freeze: "yes"
`},
			want: []string{
				`sites/s1/site.yaml:6: metadata.labels[canary]: must be a string, got a boolean (quote the value)`,
				`sites/s1/site.yaml:8: spec.channel: must be a scalar, got a list`,
				`sites/s1/site.yaml:9: spec.freeze: must be a boolean, got a string`,
			},
		},
		{
			name: "numbers out of range",
			changes: map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  rollout: {maxSitesPercentPerHour: 99999999999999999999}
  criteria: {healthyThreshold: .nan, unhealthyThreshold: 5e-2}
`},
			want: []string{
				`fleet.yaml:7: spec.rollout.maxSitesPercentPerHour: must be an integer, got a number`,
				`fleet.yaml:8: spec.criteria.healthyThreshold: must be a finite number`,
			},
		},
		{
			name: "YAML merge key",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
  <<: {labels: {class: prod}}
spec:
  channel: prod
`},
			want: []string{`sites/s1/site.yaml:5: metadata: YAML merge keys are not supported in fleet files`},
		},
		{
			name: "duplicate key",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
spec:
  channel: prod
  channel: dev
`},
			want: []string{`sites/s1/site.yaml:7: spec.channel: duplicate key, first set on line 6`},
		},
		{
			name: "YAML syntax error",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
 spec:
`},
			// The line of the mistake, as an editor shows it (yaml.v3's own
			// message names line 4, the mapping it was parsing).
			want: []string{`sites/s1/site.yaml:5: invalid YAML: did not find expected key`},
		},
		{
			name: "YAML alias",
			changes: map[string]string{"sites/s1/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s1
  labels: &l {class: prod}
spec:
  channel: prod
  conflictRules:
    - *l
`},
			want: []string{`sites/s1/site.yaml:9: spec.conflictRules[0]: YAML aliases are not supported in fleet files`},
		},
		{
			name: "two documents",
			changes: map[string]string{"channels/auth.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: auth
---
apiVersion: syncd.dev/v1alpha1
`},
			want: []string{`channels/auth.yaml:5: a fleet file holds exactly one YAML document`},
		},
		{
			name:    "empty file",
			changes: map[string]string{"channels/auth.yaml": "# nothing\n"},
			want:    []string{`channels/auth.yaml: file is empty`},
		},
		{
			name:    "missing fleet.yaml",
			changes: map[string]string{"fleet.yaml": ""},
			want:    []string{`fleet.yaml: file not found`},
		},
		{
			name: "dependencies",
			changes: map[string]string{"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  dependencies:
    - product: auth
    - product: db
      minVersion: "1"
`},
			want: []string{
				`products/auth/product.yaml:7: spec.dependencies[0].product: a product cannot depend on itself`,
				`products/auth/product.yaml:8: spec.dependencies[1].product: no product "db" (no products/db/)`,
				`products/auth/product.yaml:9: spec.dependencies[1].minVersion: invalid version "1": must be a semantic version such as 1.2.3`,
			},
		},
		{
			name: "dependency cycle",
			changes: map[string]string{
				"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  dependencies: [{product: db}]
`,
				"products/db/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: db
spec:
  dependencies: [{product: auth}]
`,
			},
			want: []string{
				`products/auth/product.yaml:6: spec.dependencies: dependency cycle: auth -> db -> auth`,
				`products/db/product.yaml:6: spec.dependencies: dependency cycle: db -> auth -> db`,
			},
		},
		{
			name: "signing key",
			changes: map[string]string{
				"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
  labels: {owner: team-identity}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: auth
  signing: {keys: [trusted]}
`,
				"keys/trusted.pub": "not a key\n",
				"keys/other.pub":   "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
			},
			want: []string{
				`keys/other.pub: PEM block is "CERTIFICATE", want "PUBLIC KEY"`,
				`keys/trusted.pub: no PEM block: a key file holds a PEM "PUBLIC KEY" such as cosign.pub`,
				`products/auth/product.yaml:9: spec.signing.keys[0]: no valid key "trusted" (no valid keys/trusted.pub)`,
			},
		},
		{
			name: "release.yaml",
			changes: map[string]string{"products/auth/releases/1.1.0/release.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: auth-1.1
spec:
  recalled: yes
`},
			want: []string{`products/auth/releases/1.1.0/release.yaml:6: spec.recalled: must be a boolean, got a string`},
		},
		{
			name: "release.yaml name",
			changes: map[string]string{"products/auth/releases/1.1.0/release.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: auth-1.1
`},
			want: []string{`products/auth/releases/1.1.0/release.yaml:4: metadata.name: must be "auth-1.1.0" to match the file's path, got "auth-1.1"`},
		},
		{
			name: "stray channels and components",
			changes: map[string]string{
				"channels/db.yaml":                        "kind: Channels\n",
				"channels/auth.yml":                       "kind: Channels\n",
				"sites/s1/products/db/kustomization.yaml": kustomization,
				"sites/s1/products/auth/patch.yaml":       "kind: Deployment\n",
			},
			want: []string{
				`channels/auth.yml: channel files are named channels/<product>.yaml`,
				`channels/db.yaml: no product "db" (no products/db/)`,
				`sites/s1/products/auth: no kustomization.yaml: a release or component directory is a kustomize directory`,
				`sites/s1/products/db: no product "db" (no products/db/)`,
			},
		},
		{
			name: "fleet",
			changes: map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod, dev]
  rollout: {maxSitesPercentPerHour: 250}
  criteria: {healthyThreshold: 1.5}
  pipelines:
    - product: "*"
      maintenanceWindow: {schedule: "0 6 * * 1-5"}
      stages:
        - {from: staging, to: dev, timed: {duration: 1h}}
        - from: staging
          to: prod
          approval: pr
          timed: {duration: 1h}
          canary:
            sites: {include: [s9]}
            promoteWhenHealthy: {sites: 2, percent: 50, soak: 30m}
            recallWhenUnhealthy: {soak: 5m}
    - product: billing
      stages: []
`},
			want: []string{
				`fleet.yaml:6: spec.channels[3]: duplicate channel "dev"`,
				`fleet.yaml:7: spec.rollout.maxSitesPercentPerHour: must be between 0 (no limit) and 100, got 250`,
				`fleet.yaml:8: spec.criteria.healthyThreshold: must be between 0 and 1, got 1.5`,
				`fleet.yaml:11: spec.pipelines[0].maintenanceWindow.duration: required: must be a positive duration such as 4h`,
				`fleet.yaml:13: spec.pipelines[0].stages[0].to: must come after "staging" in spec.channels (dev, staging, prod, dev)`,
				`fleet.yaml:14: spec.pipelines[0].stages[1]: a stage is either timed or canary, not both`,
				`fleet.yaml:16: spec.pipelines[0].stages[1].approval: must be "pull-request" or empty, got "pr"`,
				`fleet.yaml:19: spec.pipelines[0].stages[1].canary.sites.include[0]: no site "s9" (no sites/s9/)`,
				`fleet.yaml:20: spec.pipelines[0].stages[1].canary.promoteWhenHealthy: exactly one of sites and percent is required`,
				`fleet.yaml:21: spec.pipelines[0].stages[1].canary.recallWhenUnhealthy.sites: must be at least 1, got 0`,
				`fleet.yaml:22: spec.pipelines[1].product: no product "billing" (no products/billing/)`,
				`fleet.yaml:23: spec.pipelines[1].stages: required: at least one stage`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(mapFS(baseFiles(), tt.changes))
			got := errorStrings(err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Load problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
		})
	}
}

func TestLoadIsolatesBrokenProductsAndSites(t *testing.T) {
	fsys := mapFS(baseFiles(), map[string]string{
		"products/auth/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: auth
spec:
  targets: "sit.name == 'x'"
`,
		"products/db/product.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata:
  name: db
spec:
  targets: "true"
`,
		"sites/s2/site.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: s2
spec:
  channel: nightly
`,
	})
	repo, err := Load(fsys)
	want := []string{
		`products/auth/product.yaml:6: spec.targets: undeclared reference to 'sit'`,
		`sites/s2/site.yaml:6: spec.channel: channel "nightly" is not declared in fleet.yaml (declared: dev, staging, prod)`,
	}
	if got := errorStrings(err); !slices.Equal(got, want) {
		t.Fatalf("Load problems = %q, want %q", got, want)
	}
	if repo.Fleet == nil {
		t.Error("Fleet is nil, want it loaded")
	}
	if _, ok := repo.Products["db"]; !ok {
		t.Error("product db not loaded")
	}
	if _, ok := repo.Products["auth"]; ok {
		t.Error("broken product auth is in Products")
	}
	if got := errorStrings(repo.ProductErrors["auth"]); !slices.Equal(got, want[:1]) {
		t.Errorf("ProductErrors[auth] = %q, want %q", got, want[:1])
	}
	if _, ok := repo.Sites["s1"]; !ok {
		t.Error("site s1 not loaded")
	}
	if _, ok := repo.Sites["s2"]; ok {
		t.Error("broken site s2 is in Sites")
	}
	if got := errorStrings(repo.SiteErrors["s2"]); !slices.Equal(got, want[1:]) {
		t.Errorf("SiteErrors[s2] = %q, want %q", got, want[1:])
	}
	if _, err := repo.ProductsFor("s2"); err == nil || !strings.Contains(err.Error(), "has problems") {
		t.Errorf("ProductsFor(s2) error = %v, want the site's problems", err)
	}
}

func TestLoadBrokenFleetIsNil(t *testing.T) {
	repo, err := Load(mapFS(baseFiles(), map[string]string{"fleet.yaml": `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata:
  name: acme
spec:
  channels: [dev, staging, prod]
  conflictStrategy: last_writer_wins
`}))
	if err == nil {
		t.Fatal("Load succeeded, want a problem")
	}
	if repo.Fleet != nil {
		t.Error("Fleet is set despite problems in fleet.yaml")
	}
	if _, ok := repo.Sites["s1"]; !ok {
		t.Error("site s1 not loaded: channels of a fleet.yaml with other problems should still apply")
	}
}
