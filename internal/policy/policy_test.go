package policy_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/policy"
)

const fleetYAML = `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: acme}
spec:
  channels: [dev, prod]
  policies:
    - name: pinned
      rule: "object.kind != 'Deployment' || object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))"
      severity: warn
    - name: no-privileged
      rule: |
        object.kind != 'Deployment' ||
          object.spec.template.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))
      severity: block
    - name: edge-replicas
      scope: "site.labels.class == 'edge'"
      rule: "object.kind != 'Deployment' || object.spec.replicas <= site.labels.maxReplicas.size()"
`

func site(name, class string) string {
	return `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata:
  name: ` + name + `
  labels: {class: ` + class + `, maxReplicas: "xx"}
spec: {channel: prod}
`
}

func load(t *testing.T) *fleet.Repo {
	t.Helper()
	repo, err := fleet.Load(fstest.MapFS{
		"fleet.yaml":              {Data: []byte(fleetYAML)},
		"sites/cloud/site.yaml":   {Data: []byte(site("cloud", "prod"))},
		"sites/store-1/site.yaml": {Data: []byte(site("store-1", "edge"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func deployment(name, image string, replicas int64, privileged bool) *unstructured.Unstructured {
	c := map[string]any{"name": "app", "image": image}
	if privileged {
		c["securityContext"] = map[string]any{"privileged": true}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"spec": map[string]any{
			"replicas": replicas,
			"template": map[string]any{"spec": map[string]any{"containers": []any{c}}},
		},
	}}
}

func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": "ns"},
	}}
}

const pinned = "registry.test/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"

func TestEvaluate(t *testing.T) {
	repo := load(t)
	tests := []struct {
		name           string
		site           string
		products       map[string][]*unstructured.Unstructured
		wantViolations []string
		wantFields     []string
		wantBlocked    []string
		wantScore      int
		wantApplicable int
		wantNoScore    bool
	}{
		{
			name:           "all met",
			site:           "cloud",
			products:       map[string][]*unstructured.Unstructured{"app": {deployment("app", pinned, 5, false), configMap("cfg")}},
			wantScore:      100,
			wantApplicable: 2,
		},
		{
			name:           "warn is reported, not blocking",
			site:           "cloud",
			products:       map[string][]*unstructured.Unstructured{"app": {deployment("app", "registry.test/app:1", 1, false)}},
			wantViolations: []string{"policy pinned (warn): app Deployment/ns/app: rule not met"},
			wantFields:     []string{"spec.template.spec.containers[0].image"},
			wantScore:      50,
			wantApplicable: 2,
		},
		{
			name: "block names its product only",
			site: "cloud",
			products: map[string][]*unstructured.Unstructured{
				"app":   {deployment("app", pinned, 1, true)},
				"other": {deployment("other", pinned, 1, false)},
			},
			wantViolations: []string{"policy no-privileged (block): app Deployment/ns/app: rule not met"},
			wantFields:     []string{"spec.template.spec.containers[0].securityContext.privileged"},
			wantBlocked:    []string{"app"},
			wantScore:      50,
			wantApplicable: 2,
		},
		{
			name:     "scoped policy applies at edge sites",
			site:     "store-1",
			products: map[string][]*unstructured.Unstructured{"app": {deployment("app", pinned, 3, false)}},
			wantViolations: []string{
				"policy edge-replicas (block): app Deployment/ns/app: rule not met",
			},
			wantFields:     []string{"spec.replicas"},
			wantBlocked:    []string{"app"},
			wantScore:      67,
			wantApplicable: 3,
		},
		{
			name:           "no products: every applicable policy is met",
			site:           "store-1",
			wantScore:      100,
			wantApplicable: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := policy.Evaluate(repo.Fleet.Spec.Policies, repo.Sites[tt.site], tt.products)
			var got, fields []string
			for _, v := range res.Violations {
				got = append(got, v.String())
				fields = append(fields, v.Field)
			}
			if strings.Join(got, "\n") != strings.Join(tt.wantViolations, "\n") {
				t.Errorf("violations:\n got: %q\nwant: %q", got, tt.wantViolations)
			}
			if strings.Join(fields, "\n") != strings.Join(tt.wantFields, "\n") {
				t.Errorf("fields:\n got: %q\nwant: %q", fields, tt.wantFields)
			}
			var blocked []string
			for _, p := range []string{"app", "other"} {
				if len(res.Blocking(p)) > 0 {
					blocked = append(blocked, p)
				}
			}
			if strings.Join(blocked, ",") != strings.Join(tt.wantBlocked, ",") {
				t.Errorf("blocked = %v, want %v", blocked, tt.wantBlocked)
			}
			score, ok := res.Score()
			if res.Applicable != tt.wantApplicable || !ok || score != tt.wantScore {
				t.Errorf("score = %d (%v), applicable %d; want %d of %d", score, ok, res.Applicable, tt.wantScore, tt.wantApplicable)
			}
		})
	}
}

func TestEvaluateErrorIsViolation(t *testing.T) {
	repo := load(t)
	// A Deployment without spec.template: the rule cannot be evaluated.
	broken := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "b", "namespace": "ns"},
	}}
	res := policy.Evaluate(repo.Fleet.Spec.Policies, repo.Sites["cloud"], map[string][]*unstructured.Unstructured{"app": {broken}})
	blocking := res.Blocking("app")
	if len(blocking) != 1 || !strings.Contains(blocking[0].Message, "rule could not be evaluated: fleet.yaml:11: spec.policies[1].rule: policy no-privileged: no such key: spec") {
		t.Fatalf("blocking = %+v", blocking)
	}
	err := error(&policy.BlockedError{Violations: blocking})
	var be *policy.BlockedError
	if !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "blocked by policy: policy no-privileged (block): app Deployment/ns/b") {
		t.Errorf("error = %v", err)
	}
}

func TestNoScoreWithoutApplicablePolicy(t *testing.T) {
	res := policy.Evaluate(nil, &fleet.Site{}, nil)
	if _, ok := res.Score(); ok {
		t.Errorf("a site with no applicable policy has a score: %+v", res)
	}
	var nilRes *policy.Result
	if _, ok := nilRes.Score(); ok {
		t.Error("nil result has a score")
	}
}

func TestViolationString(t *testing.T) {
	v := policy.Violation{Policy: "p", Severity: fleet.SeverityBlock, Product: "web", Object: "Deployment/ns/web", Message: "rule not met"}
	for _, tc := range []struct {
		source, field, want string
	}{
		{"", "spec.replicas", "policy p (block): web Deployment/ns/web: rule not met"},
		{"products/web/releases/1.0.0/deployment.yaml:3", "", "products/web/releases/1.0.0/deployment.yaml:3: policy p (block): web Deployment/ns/web: rule not met"},
		{"products/web/releases/1.0.0/deployment.yaml:6", "spec.replicas", "products/web/releases/1.0.0/deployment.yaml:6: spec.replicas: policy p (block): web Deployment/ns/web: rule not met"},
	} {
		v.Source, v.Field = tc.source, tc.field
		if got := v.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
