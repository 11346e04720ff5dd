// Package syncd_test tests the Helm chart in this directory: it is rendered
// with Helm's own loader and engine from default and non-default values, the
// rendered objects are checked for what the chart promises (hardening, flags,
// probes, Secrets, RBAC), their `syncd run` arguments are parsed by syncd's
// own command line, and every object is server-side dry-run applied to a real
// kube-apiserver.
package syncd_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/syncd-dev/syncd/internal/cli"
)

const (
	release     = "syncd"
	identityPEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
	knownHosts  = "[git.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnownHostsLineForTheChartTest\n"
)

// requiredValues are the values every install must give.
func requiredValues() map[string]any {
	return map[string]any{
		"site": "edge-store-042",
		"repo": map[string]any{"url": "ssh://git@git.example.com:2222/fleet.git"},
		"git":  map[string]any{"identity": identityPEM, "knownHosts": knownHosts},
	}
}

// customRules is a least-privilege rbac.rules for a site whose products hold
// ConfigMaps, Services and Deployments.
var customRules = []any{
	map[string]any{
		"apiGroups": []any{"", "apps"},
		"resources": []any{"configmaps", "services", "deployments"},
		"verbs":     []any{"get", "list", "watch", "create", "update", "patch", "delete"},
	},
}

// customValues changes every value with an effect worth checking.
func customValues() map[string]any {
	return map[string]any{
		"site": "gcp-eu-west-1-staging",
		"repo": map[string]any{"url": "git@git.example.com:platform/fleet.git", "branch": "release"},
		"git": map[string]any{
			"existingSecret":              "fleet-deploy-key",
			"existingSecretHasPassphrase": true,
			// Ignored with existingSecret: no Secret may carry them.
			"identity": identityPEM, "knownHosts": knownHosts,
		},
		"webhook":           map[string]any{"secret": "s3cret-hook"},
		"kubeconfig":        map[string]any{"existingSecret": "target-cluster", "context": "edge"},
		"interval":          "1m",
		"resync":            "30m",
		"healthTimeout":     "5m",
		"conflictRetention": "0s",
		"logFormat":         "json",
		"logLevel":          "debug",
		"publishStatus":     false,
		"promote":           true,
		"maxPrunePercent":   80,
		"pprof":             map[string]any{"port": 6060},
		"registryConfig":    "/etc/syncd/registry/config.json",
		"replicas":          2,
		"image":             map[string]any{"repository": "registry.example.com/syncd", "tag": "v1.2.3", "pullPolicy": "Always"},
		"serviceAccount":    map[string]any{"name": "fleet-agent"},
		"rbac": map[string]any{
			"clusterWide": false,
			"rules":       customRules,
			"namespaces":  []any{"team-a", "team-b"},
		},
		"metrics": map[string]any{"port": 8080},
		"service": map[string]any{"port": 80, "annotations": map[string]any{"prometheus.io/scrape": "true"}},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "200m", "memory": "256Mi"},
			"limits":   map[string]any{"cpu": "1", "memory": "1Gi"},
		},
		"podAnnotations": map[string]any{"example.com/team": "platform"},
		"nodeSelector":   map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":    []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}},
		"affinity": map[string]any{"podAntiAffinity": map[string]any{
			"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{
				"weight": 100,
				"podAffinityTerm": map[string]any{
					"topologyKey":   "kubernetes.io/hostname",
					"labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "syncd"}},
				},
			}},
		}},
		"extraEnv": []any{map[string]any{"name": "GOMAXPROCS", "value": "2"}},
		"tracing": map[string]any{
			"endpoint": "http://otel-collector.monitoring:4318",
			"env":      []any{map[string]any{"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_traceidratio"}},
		},
	}
}

// with returns a deep copy of base with the value at the dotted path set.
func with(base map[string]any, path string, v any) map[string]any {
	out := deepCopy(base).(map[string]any)
	m := out
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == nil {
		delete(m, keys[len(keys)-1])
	} else {
		m[keys[len(keys)-1]] = v
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// rendered is one rendering of the chart.
type rendered struct {
	objects []*unstructured.Unstructured
	notes   string
}

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(".")
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return ch
}

// render renders the chart like `helm install syncd . -n namespace` would,
// with the values schema checked and missing values an error (strict).
func render(ch *chart.Chart, vals map[string]any, namespace string) (*rendered, error) {
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(ch, top)
	if err != nil {
		return nil, err
	}
	r := &rendered{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if strings.HasSuffix(name, "NOTES.txt") {
			r.notes = files[name]
			continue
		}
		objs, err := decodeObjects([]byte(files[name]))
		if err != nil {
			return nil, errors.Join(errors.New(name), err)
		}
		r.objects = append(r.objects, objs...)
	}
	return r, nil
}

func mustRender(t *testing.T, vals map[string]any, namespace string) *rendered {
	t.Helper()
	r, err := render(loadChart(t), vals, namespace)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	return r
}

// decodeObjects splits a YAML stream into objects, skipping empty documents.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func objectID(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func (r *rendered) ids() []string {
	var ids []string
	for _, o := range r.objects {
		ids = append(ids, objectID(o))
	}
	sort.Strings(ids)
	return ids
}

// into finds the object named id ("Kind ns/name" or "Kind name") and
// converts it into a typed object.
func (r *rendered) into(t *testing.T, id string, typed any) {
	t.Helper()
	for _, o := range r.objects {
		if objectID(o) == id {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, typed); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			return
		}
	}
	t.Fatalf("%s not rendered; rendered: %v", id, r.ids())
}

func (r *rendered) has(id string) bool { return slices.Contains(r.ids(), id) }

func (r *rendered) deployment(t *testing.T, namespace string) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	dep := &appsv1.Deployment{}
	r.into(t, "Deployment "+namespace+"/syncd", dep)
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return dep, dep.Spec.Template.Spec.Containers[0]
}

// parseRunArgs parses a container's arguments with syncd's own `run`
// command, so an unknown flag or an unparsable value fails here rather than
// in a crash-looping pod. It returns the flags' values by name.
func parseRunArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %q: want the run subcommand first", args)
	}
	run, _, err := cli.NewRootCommand(strings.NewReader(""), io.Discard, io.Discard).Find([]string{"run"})
	if err != nil || run.Name() != "run" {
		t.Fatalf("finding syncd's run command: %v", err)
	}
	if err := run.ParseFlags(args[1:]); err != nil {
		t.Fatalf("syncd run %s: %v", strings.Join(args[1:], " "), err)
	}
	if rest := run.Flags().Args(); len(rest) > 0 {
		t.Fatalf("syncd run takes no arguments, the chart gives %q", rest)
	}
	got := map[string]string{}
	run.Flags().Visit(func(f *pflag.Flag) { got[f.Name] = f.Value.String() })
	return got
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// checkCommon checks what holds for every rendering.
func checkCommon(t *testing.T, r *rendered, namespace string) {
	t.Helper()
	for _, o := range r.objects {
		// syncd treats objects with its site label as managed by it.
		if _, ok := o.GetLabels()["syncd.dev/site"]; ok {
			t.Errorf("%s carries the label syncd.dev/site", objectID(o))
		}
		if o.GetLabels()["app.kubernetes.io/instance"] != release {
			t.Errorf("%s: labels %v lack app.kubernetes.io/instance=%s", objectID(o), o.GetLabels(), release)
		}
	}

	dep, c := r.deployment(t, namespace)
	pod := dep.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.FSGroup == nil || *psc.FSGroup != 65532 || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, runAsUser and fsGroup 65532, seccomp RuntimeDefault", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.Capabilities == nil ||
		!reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext %+v: want read-only root, no privilege escalation, non-root, drop ALL, seccomp RuntimeDefault", sc)
	}
	if pod.ServiceAccountName == "" || pod.ServiceAccountName == "default" {
		t.Errorf("serviceAccountName %q: want the chart's", pod.ServiceAccountName)
	}

	flags := parseRunArgs(t, c.Args)
	if flags["site"] == "" || flags["repo"] == "" {
		t.Errorf("flags %v lack --site or --repo", flags)
	}

	// Probes on the port syncd listens on.
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
		t.Fatalf("ports %+v: want one named http", c.Ports)
	}
	if want := ":" + strconv.Itoa(int(c.Ports[0].ContainerPort)); flags["listen"] != want {
		t.Errorf("--listen=%s, container port %d", flags["listen"], c.Ports[0].ContainerPort)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v: want GET %s on port http", p.name, p.probe, p.path)
		}
	}

	// Every Secret volume is read-only for its owner (0400), and mounted read-only.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o400) {
			t.Errorf("secret volume %s: defaultMode %v, want 0400", v.Name, v.Secret.DefaultMode)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
		if v := volumes[m.Name]; v.Secret != nil && !m.ReadOnly {
			t.Errorf("secret volume %s mounted writable at %s", m.Name, m.MountPath)
		}
	}
	if m, ok := mounts["/etc/syncd/git"]; !ok || volumes[m.Name].Secret == nil {
		t.Errorf("no Secret mounted at /etc/syncd/git: %+v", c.VolumeMounts)
	}
	for _, flag := range []string{"identity", "known-hosts", "passphrase-file", "kubeconfig", "verify-commits", "signing-key", "status-identity"} {
		if p := flags[flag]; p != "" {
			dir := p[:strings.LastIndex(p, "/")]
			if m, ok := mounts[dir]; !ok || volumes[m.Name].Secret == nil {
				t.Errorf("--%s=%s is not in a mounted Secret", flag, p)
			}
		}
	}
	// The root filesystem is read-only: the cache and /tmp are emptyDirs.
	for _, dir := range []string{flags["cache-dir"], "/tmp"} {
		if m, ok := mounts[dir]; !ok || volumes[m.Name].EmptyDir == nil || m.ReadOnly {
			t.Errorf("%s is not a writable emptyDir mount: %+v", dir, c.VolumeMounts)
		}
	}

	// The Service reaches the pod's port.
	svc := &corev1.Service{}
	r.into(t, "Service "+namespace+"/syncd", svc)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("service ports %+v: want one to port http", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %v does not select the pod labels %v", svc.Spec.Selector, dep.Spec.Template.Labels)
		}
	}
	if len(svc.Spec.Selector) == 0 || !reflect.DeepEqual(svc.Spec.Selector, dep.Spec.Selector.MatchLabels) {
		t.Errorf("service selector %v, deployment selector %v", svc.Spec.Selector, dep.Spec.Selector.MatchLabels)
	}

	// syncd's own least-privilege Role is always there.
	role := &rbacv1.Role{}
	r.into(t, "Role "+flags["namespace"]+"/syncd", role)
	wantSelf := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{"syncd.dev"}, Resources: []string{"conflicts", "conflicts/status"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"syncd-value-key." + flags["site"]}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
	}
	if !reflect.DeepEqual(role.Rules, wantSelf) {
		t.Errorf("Role rules %+v, want %+v", role.Rules, wantSelf)
	}
	binding := &rbacv1.RoleBinding{}
	r.into(t, "RoleBinding "+flags["namespace"]+"/syncd", binding)
	checkSubject(t, "RoleBinding", binding.Subjects, pod.ServiceAccountName, namespace)

	if !strings.Contains(r.notes, "syncd status --site "+flags["site"]+" --namespace "+flags["namespace"]) ||
		!strings.Contains(r.notes, "kubectl get conflicts -n "+flags["namespace"]) ||
		!strings.Contains(r.notes, "ssh-keygen -y") {
		t.Errorf("NOTES.txt lacks how to check status and conflicts or get the public key:\n%s", r.notes)
	}
}

func checkSubject(t *testing.T, what string, subjects []rbacv1.Subject, sa, namespace string) {
	t.Helper()
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: namespace}}
	if !reflect.DeepEqual(subjects, want) {
		t.Errorf("%s subjects %+v, want %+v", what, subjects, want)
	}
}

func TestRenderDefaults(t *testing.T) {
	// helm install refuses a cluster outside the chart's kubeVersion: the
	// version syncd is tested with must be inside it.
	ch := loadChart(t)
	if !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, "v1.36.3") {
		t.Errorf("kubeVersion %q excludes Kubernetes 1.36.3", ch.Metadata.KubeVersion)
	}
	// .helmignore keeps these tests out of the packaged chart.
	for _, f := range ch.Files {
		if strings.HasSuffix(f.Name, ".go") {
			t.Errorf("the chart packages %s", f.Name)
		}
	}
	r := mustRender(t, requiredValues(), "syncd-system")
	wantIDs := []string{
		"ClusterRole syncd-system-syncd-manager",
		"ClusterRole syncd-system-syncd-self",
		"ClusterRoleBinding syncd-system-syncd-manager",
		"ClusterRoleBinding syncd-system-syncd-self",
		"Deployment syncd-system/syncd",
		"Role syncd-system/syncd",
		"RoleBinding syncd-system/syncd",
		"Secret syncd-system/syncd-git",
		"Service syncd-system/syncd",
		"ServiceAccount syncd-system/syncd",
	}
	if got := r.ids(); !reflect.DeepEqual(got, wantIDs) {
		t.Fatalf("rendered objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantIDs, "\n"))
	}
	checkCommon(t, r, "syncd-system")

	dep, c := r.deployment(t, "syncd-system")
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", dep.Spec.Replicas)
	}
	if dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q: want Recreate, so that two syncd never reconcile at once", dep.Spec.Strategy.Type)
	}
	if c.Image != "ghcr.io/syncd-dev/syncd:0.1.0" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %s (%s): want the chart's appVersion", c.Image, c.ImagePullPolicy)
	}
	wantArgs := []string{
		"run",
		"--site=edge-store-042",
		"--repo=ssh://git@git.example.com:2222/fleet.git",
		"--branch=main",
		"--identity=/etc/syncd/git/identity",
		"--known-hosts=/etc/syncd/git/known_hosts",
		"--cache-dir=/var/cache/syncd",
		"--namespace=syncd-system",
		"--interval=15s",
		"--resync=10m",
		"--health-timeout=2m",
		"--conflict-retention=720h",
		"--listen=:9090",
		"--log-format=text",
		"--publish-status=true", "--max-prune-percent=50",
	}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args\n%q\nwant\n%q", c.Args, wantArgs)
	}
	if len(c.Env) != 0 {
		t.Errorf("env %+v, want none (no webhook)", c.Env)
	}
	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	if !equalResources(c.Resources, wantResources) {
		t.Errorf("resources %+v, want %+v", c.Resources, wantResources)
	}

	secret := &corev1.Secret{}
	r.into(t, "Secret syncd-system/syncd-git", secret)
	wantData := map[string][]byte{"identity": []byte(identityPEM), "known_hosts": []byte(knownHosts)}
	if !reflect.DeepEqual(secret.Data, wantData) {
		t.Errorf("git Secret data %q, want %q", secret.Data, wantData)
	}
	var gitVolume *corev1.SecretVolumeSource
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == "git" {
			gitVolume = v.Secret
		}
	}
	if gitVolume == nil || gitVolume.SecretName != "syncd-git" {
		t.Errorf("git volume %+v: want Secret syncd-git", gitVolume)
	}
	if dep.Spec.Template.Annotations["checksum/secrets"] == "" {
		t.Error("no checksum/secrets annotation: a new deploy key would not roll the pod")
	}

	manager := &rbacv1.ClusterRole{}
	r.into(t, "ClusterRole syncd-system-syncd-manager", manager)
	wantAll := []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}
	if !reflect.DeepEqual(manager.Rules, wantAll) {
		t.Errorf("manager ClusterRole rules %+v, want %+v", manager.Rules, wantAll)
	}
	crb := &rbacv1.ClusterRoleBinding{}
	r.into(t, "ClusterRoleBinding syncd-system-syncd-manager", crb)
	checkSubject(t, "manager ClusterRoleBinding", crb.Subjects, "syncd", "syncd-system")
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != manager.Name {
		t.Errorf("manager ClusterRoleBinding roleRef %+v", crb.RoleRef)
	}
	self := &rbacv1.ClusterRole{}
	r.into(t, "ClusterRole syncd-system-syncd-self", self)
	wantSelf := []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, ResourceNames: []string{"conflicts.syncd.dev"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}, Verbs: []string{"create"}},
	}
	if !reflect.DeepEqual(self.Rules, wantSelf) {
		t.Errorf("self ClusterRole rules %+v, want %+v", self.Rules, wantSelf)
	}
}

func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Requests, b.Requests) && eq(a.Limits, b.Limits)
}

func TestRenderCustomValues(t *testing.T) {
	r := mustRender(t, customValues(), "fleet-agent")
	wantIDs := []string{
		"ClusterRole fleet-agent-syncd-reader",
		"ClusterRole fleet-agent-syncd-self",
		"ClusterRoleBinding fleet-agent-syncd-reader",
		"ClusterRoleBinding fleet-agent-syncd-self",
		"Deployment fleet-agent/syncd",
		"Role fleet-agent/syncd",
		"Role team-a/syncd-manager",
		"Role team-b/syncd-manager",
		"RoleBinding fleet-agent/syncd",
		"RoleBinding team-a/syncd-manager",
		"RoleBinding team-b/syncd-manager",
		"Secret fleet-agent/syncd-webhook",
		"Service fleet-agent/syncd",
		"ServiceAccount fleet-agent/fleet-agent",
	}
	if got := r.ids(); !reflect.DeepEqual(got, wantIDs) {
		t.Fatalf("rendered objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantIDs, "\n"))
	}
	checkCommon(t, r, "fleet-agent")

	dep, c := r.deployment(t, "fleet-agent")
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	if c.Image != "registry.example.com/syncd:v1.2.3" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %s (%s)", c.Image, c.ImagePullPolicy)
	}
	flags := parseRunArgs(t, c.Args)
	want := map[string]string{
		"site":               "gcp-eu-west-1-staging",
		"repo":               "git@git.example.com:platform/fleet.git",
		"branch":             "release",
		"identity":           "/etc/syncd/git/identity",
		"known-hosts":        "/etc/syncd/git/known_hosts",
		"passphrase-file":    "/etc/syncd/git/passphrase",
		"cache-dir":          "/var/cache/syncd",
		"kubeconfig":         "/etc/syncd/kubeconfig/kubeconfig",
		"context":            "edge",
		"namespace":          "fleet-agent",
		"interval":           "1m0s",
		"resync":             "30m0s",
		"health-timeout":     "5m0s",
		"conflict-retention": "0s",
		"listen":             ":8080",
		"log-format":         "json",
		"publish-status":     "false",
		"promote":            "true",
		"max-prune-percent":  "80",
		"pprof":              "127.0.0.1:6060",
		"registry-config":    "/etc/syncd/registry/config.json",
		"leader-elect":       "true",
	}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("syncd run flags\n%v\nwant\n%v", flags, want)
	}
	env := envByName(c)
	if e := env["SYNCD_WEBHOOK_SECRET"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "syncd-webhook" || e.ValueFrom.SecretKeyRef.Key != "webhook-secret" || e.Value != "" {
		t.Errorf("SYNCD_WEBHOOK_SECRET %+v: want it from Secret syncd-webhook, key webhook-secret", e)
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, "s3cret-hook") }) {
		t.Error("the webhook secret is on the command line")
	}
	if env["SYNCD_LOG_LEVEL"].Value != "debug" || env["GOMAXPROCS"].Value != "2" ||
		env["OTEL_EXPORTER_OTLP_ENDPOINT"].Value != "http://otel-collector.monitoring:4318" || env["OTEL_TRACES_SAMPLER"].Value != "parentbased_traceidratio" {
		t.Errorf("env %+v: want SYNCD_LOG_LEVEL=debug, the extra GOMAXPROCS and the tracing variables", c.Env)
	}
	webhook := &corev1.Secret{}
	r.into(t, "Secret fleet-agent/syncd-webhook", webhook)
	if !reflect.DeepEqual(webhook.Data, map[string][]byte{"webhook-secret": []byte("s3cret-hook")}) {
		t.Errorf("webhook Secret data %q", webhook.Data)
	}

	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	if !equalResources(c.Resources, wantResources) {
		t.Errorf("resources %+v, want %+v", c.Resources, wantResources)
	}
	pod := dep.Spec.Template.Spec
	secretVolumes := map[string]string{}
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = v.Secret.SecretName
		}
	}
	if want := map[string]string{"git": "fleet-deploy-key", "kubeconfig": "target-cluster"}; !reflect.DeepEqual(secretVolumes, want) {
		t.Errorf("secret volumes %v, want %v", secretVolumes, want)
	}
	if dep.Spec.Template.Annotations["example.com/team"] != "platform" || pod.NodeSelector["kubernetes.io/os"] != "linux" ||
		len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "dedicated" ||
		pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		t.Errorf("pod annotations %v, nodeSelector %v, tolerations %+v, affinity %+v: want the values'",
			dep.Spec.Template.Annotations, pod.NodeSelector, pod.Tolerations, pod.Affinity)
	}
	svc := &corev1.Service{}
	r.into(t, "Service fleet-agent/syncd", svc)
	if svc.Spec.Ports[0].Port != 80 || svc.Annotations["prometheus.io/scrape"] != "true" {
		t.Errorf("service %+v", svc)
	}

	// clusterWide: false: the custom kinds readable everywhere, writable in
	// team-a and team-b only, and nothing cluster-wide beyond that.
	reader := &rbacv1.ClusterRole{}
	r.into(t, "ClusterRole fleet-agent-syncd-reader", reader)
	wantRead := []rbacv1.PolicyRule{{APIGroups: []string{"", "apps"}, Resources: []string{"configmaps", "services", "deployments"}, Verbs: []string{"get", "list", "watch"}}}
	if !reflect.DeepEqual(reader.Rules, wantRead) {
		t.Errorf("reader ClusterRole rules %+v, want %+v", reader.Rules, wantRead)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		role := &rbacv1.Role{}
		r.into(t, "Role "+ns+"/syncd-manager", role)
		wantWrite := []rbacv1.PolicyRule{{APIGroups: []string{"", "apps"}, Resources: []string{"configmaps", "services", "deployments"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}}
		if !reflect.DeepEqual(role.Rules, wantWrite) {
			t.Errorf("%s manager Role rules %+v, want %+v", ns, role.Rules, wantWrite)
		}
		rb := &rbacv1.RoleBinding{}
		r.into(t, "RoleBinding "+ns+"/syncd-manager", rb)
		checkSubject(t, ns+" RoleBinding", rb.Subjects, "fleet-agent", "fleet-agent")
	}
	if !strings.Contains(r.notes, "/hooks/git") || !strings.Contains(r.notes, "Leader election is on") {
		t.Errorf("NOTES.txt lacks the webhook or leader election:\n%s", r.notes)
	}
}

// More than one replica only makes sense with leader election.
func TestRenderLeaderElection(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		enabled  bool
		want     bool
	}{
		{replicas: 1, enabled: false, want: false},
		{replicas: 1, enabled: true, want: true},
		{replicas: 2, enabled: false, want: true},
		{replicas: 3, enabled: true, want: true},
		{replicas: 0, enabled: false, want: false},
	} {
		vals := with(with(requiredValues(), "replicas", tc.replicas), "leaderElection.enabled", tc.enabled)
		_, c := mustRender(t, vals, "syncd-system").deployment(t, "syncd-system")
		if got := parseRunArgs(t, c.Args)["leader-elect"] == "true"; got != tc.want {
			t.Errorf("replicas %d, leaderElection.enabled %v: --leader-elect %v, want %v", tc.replicas, tc.enabled, got, tc.want)
		}
	}
}

// Without a known_hosts (labs only) syncd gets the insecure flag and no
// --known-hosts pointing at a file that is not there.
func TestRenderInsecureHostKey(t *testing.T) {
	vals := with(with(requiredValues(), "git.knownHosts", nil), "git.insecureSkipHostKeyCheck", true)
	r := mustRender(t, vals, "syncd-system")
	_, c := r.deployment(t, "syncd-system")
	flags := parseRunArgs(t, c.Args)
	if _, ok := flags["known-hosts"]; ok || flags["insecure-skip-host-key-check"] != "true" {
		t.Errorf("flags %v: want --insecure-skip-host-key-check and no --known-hosts", flags)
	}
	secret := &corev1.Secret{}
	r.into(t, "Secret syncd-system/syncd-git", secret)
	if _, ok := secret.Data["known_hosts"]; ok {
		t.Errorf("git Secret has known_hosts: %q", secret.Data)
	}
	if !strings.Contains(r.notes, "WARNING: git.insecureSkipHostKeyCheck") {
		t.Errorf("NOTES.txt does not warn about the host key:\n%s", r.notes)
	}
}

// Values that would give a syncd that cannot start fail the install with a
// message that says what to set.
func TestRenderRejectsBadValues(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"no site", with(requiredValues(), "site", nil), "site is required: the site this syncd serves"},
		{"empty site", with(requiredValues(), "site", ""), "site is required: the site this syncd serves"},
		{"no repo", with(requiredValues(), "repo.url", nil), "repo.url is required"},
		{"no deploy key", with(requiredValues(), "git.identity", nil), "git.identity is required"},
		{"no known_hosts", with(requiredValues(), "git.knownHosts", nil), "git.knownHosts is required"},
		{"bad log format", with(requiredValues(), "logFormat", "xml"), "at '/logFormat': value must be one of 'text', 'json'"},
		{"duration without unit", with(requiredValues(), "interval", "15"), "at '/interval'"},
		{"duration as a number", with(requiredValues(), "interval", 15), "at '/interval': got number, want string"},
		{"misspelled value", with(requiredValues(), "sites", "x"), "additional properties 'sites' not allowed"},
		{"misspelled nested value", with(requiredValues(), "git.knownhosts", "x"), "additional properties 'knownhosts' not allowed"},
		{"rule without verbs", with(requiredValues(), "rbac.rules", []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods"}}}), "verbs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(ch, tc.vals, "syncd-system")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The existing Secret replaces the deploy key and known_hosts values.
	vals := with(with(with(requiredValues(), "git.identity", nil), "git.knownHosts", nil), "git.existingSecret", "mine")
	if _, err := render(ch, vals, "syncd-system"); err != nil {
		t.Fatalf("with git.existingSecret: %v", err)
	}
}

// Every `syncd run` flag can be set from the chart's values, so a flag added
// to the daemon without a value fails here.
func TestChartCoversEveryRunFlag(t *testing.T) {
	given := map[string]bool{}
	var envs []corev1.EnvVar
	for _, vals := range []map[string]any{
		requiredValues(),
		customValues(),
		with(requiredValues(), "git.insecureSkipHostKeyCheck", true),
		trustValues(),
		with(requiredValues(), "offline", true),
	} {
		_, c := mustRender(t, vals, "syncd-system").deployment(t, "syncd-system")
		for name := range parseRunArgs(t, c.Args) {
			given[name] = true
		}
		envs = append(envs, c.Env...)
	}
	run, _, err := cli.NewRootCommand(strings.NewReader(""), io.Discard, io.Discard).Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	envFlag := map[string]string{} // SYNCD_<FLAG> → flag
	run.Flags().VisitAll(func(f *pflag.Flag) {
		envFlag["SYNCD_"+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))] = f.Name
	})
	// SYNCD_LOG_LEVEL is read by the logger, not a flag; GOMAXPROCS is
	// extraEnv; the OTEL_* variables configure tracing (tracing.New).
	notFlags := map[string]bool{"SYNCD_LOG_LEVEL": true, "GOMAXPROCS": true, "OTEL_EXPORTER_OTLP_ENDPOINT": true, "OTEL_TRACES_SAMPLER": true}
	for _, e := range envs {
		name, ok := envFlag[e.Name]
		if !ok && !notFlags[e.Name] {
			t.Errorf("env %s is neither a flag of syncd run nor known", e.Name)
		}
		given[name] = true
	}
	// Not for a pod: --repo-dir reads a local checkout instead of --repo.
	notInChart := map[string]bool{"repo-dir": true, "help": true}
	run.Flags().VisitAll(func(f *pflag.Flag) {
		if !given[f.Name] && !notInChart[f.Name] {
			t.Errorf("syncd run --%s cannot be set from the chart's values", f.Name)
		}
	})
	if !given["webhook-secret"] || !given["leader-elect"] {
		t.Errorf("flags given: %v", given)
	}
}

// Every value of values.yaml is documented by a comment above it, except the
// fields of Kubernetes structures passed through as they are.
func TestValuesAreDocumented(t *testing.T) {
	data, err := os.ReadFile("values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	passthrough := map[string]bool{
		"resources": true, "livenessProbe": true, "readinessProbe": true, "strategy": true,
		"podSecurityContext": true, "securityContext": true, "rbac.rules": true,
	}
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			key, val := m.Content[i], m.Content[i+1]
			path := prefix + key.Value
			if strings.TrimSpace(key.HeadComment) == "" {
				t.Errorf("values.yaml:%d: %s has no comment", key.Line, path)
			}
			if val.Kind == yaml.MappingNode && !passthrough[path] {
				walk(path+".", val)
			}
		}
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("values.yaml is not a mapping")
	}
	walk("", doc.Content[0])
	if t.Failed() {
		return
	}
	// And the walk saw the values: a broken walk must not pass silently.
	if !strings.Contains(string(data), "existingSecretHasPassphrase:") {
		t.Fatal("values.yaml lacks git.existingSecretHasPassphrase")
	}
}
