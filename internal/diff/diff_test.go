package diff

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/syncd-dev/syncd/internal/inventory"
	"github.com/syncd-dev/syncd/internal/redact"
)

func configMap(namespace, name string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": name},
		"data":       data,
	}}
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

// withServerFields returns a copy of o with everything the API server adds
// to a live object, set to values that differ from call to call.
func withServerFields(o *unstructured.Unstructured, seed string) *unstructured.Unstructured {
	c := o.DeepCopy()
	md := c.Object["metadata"].(map[string]any)
	md["managedFields"] = []any{map[string]any{"manager": "manager-" + seed, "operation": "Update"}}
	md["resourceVersion"] = "rv-" + seed
	md["generation"] = int64(len(seed))
	md["uid"] = "uid-" + seed
	md["creationTimestamp"] = "2024-01-0" + seed[:1] + "T00:00:00Z"
	c.Object["status"] = map[string]any{"phase": "phase-" + seed}
	return c
}

func TestDiffUnifiedIgnoresServerMaintainedFields(t *testing.T) {
	base := configMap("ns", "cfg", map[string]any{"level": "info"})
	live := withServerFields(base, "1abc")
	merged := withServerFields(base, "2xyz")
	got, err := Unified(live, merged)
	if err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Fatalf("Unified of objects that differ only in server-maintained fields = %q, want empty", got)
	}
	// Unified must not modify its arguments.
	if live.GetResourceVersion() != "rv-1abc" || len(live.GetManagedFields()) != 1 {
		t.Fatalf("Unified modified the live object: %v", live.Object["metadata"])
	}
}

func TestDiffUnifiedShowsDataChange(t *testing.T) {
	live := withServerFields(configMap("ns", "cfg", map[string]any{"level": "debug", "keep": "same"}), "1abc")
	merged := withServerFields(configMap("ns", "cfg", map[string]any{"level": "info", "keep": "same"}), "2xyz")
	got, err := Unified(live, merged)
	if err != nil {
		t.Fatal(err)
	}
	want := `--- live
+++ git
@@ -1,7 +1,7 @@
 apiVersion: v1
 data:
   keep: same
-  level: debug
+  level: info
 kind: ConfigMap
 metadata:
   name: cfg
`
	if got != want {
		t.Fatalf("Unified =\n%s\nwant\n%s", got, want)
	}
	for _, volatile := range []string{"managedFields", "manager-", "resourceVersion", "rv-", "uid", "generation", "creationTimestamp", "status", "phase-"} {
		if strings.Contains(got, volatile) {
			t.Errorf("Unified output contains %q:\n%s", volatile, got)
		}
	}
}

func TestDiffDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"namespaced", configMap("team-a", "cfg", nil), "ConfigMap/team-a/cfg"},
		{"cluster-scoped", func() *unstructured.Unstructured {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("Namespace")
			u.SetName("team-a")
			return u
		}(), "Namespace/team-a"},
		{"grouped kind", func() *unstructured.Unstructured {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("apps/v1")
			u.SetKind("Deployment")
			u.SetNamespace("web")
			u.SetName("frontend")
			return u
		}(), "Deployment/web/frontend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Describe(tc.obj); got != tc.want {
				t.Fatalf("Describe = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDiffPrunes(t *testing.T) {
	entries := []inventory.Entry{
		{ID: object.ObjMetadata{Namespace: "ns", Name: "cfg", GroupKind: schema.GroupKind{Kind: "ConfigMap"}}, Version: "v1"},
		{ID: object.ObjMetadata{Name: "ns", GroupKind: schema.GroupKind{Kind: "Namespace"}}, Version: "v1"},
	}
	got := Prunes("web", entries)
	want := []Change{
		{Product: "web", Object: "ConfigMap/ns/cfg", Action: Deleted},
		{Product: "web", Object: "Namespace/ns", Action: Deleted},
	}
	if len(got) != len(want) {
		t.Fatalf("Prunes = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Prunes[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := Prunes("web", nil); len(got) != 0 {
		t.Errorf("Prunes of no entries = %+v, want none", got)
	}
}

// fakeDiffer answers Diff from a table keyed by object name.
type fakeDiffer struct {
	actions map[string]ssa.Action
	live    map[string]*unstructured.Unstructured
	merged  map[string]*unstructured.Unstructured
	errs    map[string]error
	seen    []*unstructured.Unstructured
}

func (f *fakeDiffer) Diff(_ context.Context, obj *unstructured.Unstructured, _ ssa.DiffOptions) (*ssa.ChangeSetEntry, *unstructured.Unstructured, *unstructured.Unstructured, error) {
	f.seen = append(f.seen, obj)
	name := obj.GetName()
	if err := f.errs[name]; err != nil {
		return nil, nil, nil, err
	}
	return &ssa.ChangeSetEntry{Subject: Describe(obj), Action: f.actions[name]}, f.live[name], f.merged[name], nil
}

func TestDiffObjectsMapsActions(t *testing.T) {
	objs := []*unstructured.Unstructured{
		configMap("ns", "new", map[string]any{"a": "1"}),
		configMap("ns", "drifted", map[string]any{"level": "info"}),
		configMap("ns", "same", map[string]any{"a": "1"}),
		configMap("ns", "skipped", map[string]any{"a": "1"}),
	}
	d := &fakeDiffer{
		actions: map[string]ssa.Action{
			"new": ssa.CreatedAction, "drifted": ssa.ConfiguredAction,
			"same": ssa.UnchangedAction, "skipped": ssa.SkippedAction,
		},
		live:   map[string]*unstructured.Unstructured{"drifted": withServerFields(configMap("ns", "drifted", map[string]any{"level": "debug"}), "1")},
		merged: map[string]*unstructured.Unstructured{"drifted": withServerFields(configMap("ns", "drifted", map[string]any{"level": "info"}), "2")},
	}
	got, err := Objects(context.Background(), d, "web", objs)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		object string
		action Action
	}{
		{"ConfigMap/ns/new", Created},
		{"ConfigMap/ns/drifted", Configured},
		{"ConfigMap/ns/same", Unchanged},
		{"ConfigMap/ns/skipped", Unchanged},
	}
	if len(got) != len(want) {
		t.Fatalf("Objects returned %d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.Product != "web" || c.Object != w.object || c.Action != w.action {
			t.Errorf("change %d = %+v, want web %s %s", i, c, w.object, w.action)
		}
		if hasDiff := c.Diff != ""; hasDiff != (w.action == Configured) {
			t.Errorf("change %d (%s): diff %q; want a diff only for configured objects", i, w.object, c.Diff)
		}
	}
	if d := got[1].Diff; !strings.Contains(d, "-  level: debug") || !strings.Contains(d, "+  level: info") {
		t.Errorf("diff of the drifted object lacks the live and git values:\n%s", d)
	}
	// The rendered objects are passed as copies: the dry run may mutate them.
	for i, o := range d.seen {
		if o == objs[i] {
			t.Errorf("Objects passed rendered object %d itself to the differ, want a copy", i)
		}
	}
}

func TestDiffObjectsReportsErrorWithObjectAndKeepsEarlierChanges(t *testing.T) {
	objs := []*unstructured.Unstructured{
		configMap("ns", "ok", nil),
		configMap("ns", "bad", nil),
		configMap("ns", "never", nil),
	}
	boom := errors.New("admission webhook denied the request")
	d := &fakeDiffer{
		actions: map[string]ssa.Action{"ok": ssa.CreatedAction, "never": ssa.CreatedAction},
		errs:    map[string]error{"bad": boom},
	}
	got, err := Objects(context.Background(), d, "web", objs)
	if !errors.Is(err, boom) {
		t.Fatalf("Objects error = %v, want it to wrap %v", err, boom)
	}
	if !strings.Contains(err.Error(), "ConfigMap/ns/bad") {
		t.Errorf("Objects error %q does not name the object", err)
	}
	if len(got) != 1 || got[0].Object != "ConfigMap/ns/ok" || got[0].Action != Created {
		t.Errorf("changes before the error = %+v, want ConfigMap/ns/ok created", got)
	}
}

func namespaceObj(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(name)
	return u
}

func crdObj(group, kind string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": strings.ToLower(kind) + "s." + group},
		"spec": map[string]any{
			"group": group,
			"names": map[string]any{"kind": kind, "plural": strings.ToLower(kind) + "s"},
		},
	}}
}

func widget(namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// TestObjectsOnEmptyCluster: on a cluster that has neither the namespace nor
// the CRD a product brings, the dry run of the objects inside them fails; they
// are reported as created when the product itself creates what is missing,
// and as errors otherwise.
func TestDiffObjectsOnEmptyCluster(t *testing.T) {
	nsMissing := func(ns string) error {
		return ssaerrors.NewDryRunErr(apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns), nil)
	}
	noKind := ssaerrors.NewDryRunErr(&meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "example.com", Kind: "Widget"}, SearchedVersions: []string{"v1"}}, nil)
	cmMissing := ssaerrors.NewDryRunErr(apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, "other"), nil)
	for _, tc := range []struct {
		name    string
		objs    []*unstructured.Unstructured
		errs    map[string]error
		want    []Change
		wantErr string
	}{
		{
			name: "namespace created by the product",
			objs: []*unstructured.Unstructured{namespaceObj("team"), configMap("team", "cfg", nil)},
			errs: map[string]error{"cfg": nsMissing("team")},
			want: []Change{{Product: "p", Object: "Namespace/team", Action: Created}, {Product: "p", Object: "ConfigMap/team/cfg", Action: Created}},
		},
		{
			name:    "namespace created by no one",
			objs:    []*unstructured.Unstructured{namespaceObj("other"), configMap("team", "cfg", nil)},
			errs:    map[string]error{"cfg": nsMissing("team")},
			wantErr: "ConfigMap/team/cfg",
		},
		{
			name:    "another object not found",
			objs:    []*unstructured.Unstructured{namespaceObj("team"), configMap("team", "cfg", nil)},
			errs:    map[string]error{"cfg": cmMissing},
			wantErr: "ConfigMap/team/cfg",
		},
		{
			name: "CRD created by the product",
			objs: []*unstructured.Unstructured{namespaceObj("team"), crdObj("example.com", "Widget"), widget("team", "w")},
			errs: map[string]error{"w": noKind, "team": nil},
			want: []Change{
				{Product: "p", Object: "Namespace/team", Action: Created},
				{Product: "p", Object: "CustomResourceDefinition/widgets.example.com", Action: Created},
				{Product: "p", Object: "Widget/team/w", Action: Created},
			},
		},
		{
			name:    "CRD of another kind",
			objs:    []*unstructured.Unstructured{crdObj("example.com", "Gadget"), widget("team", "w")},
			errs:    map[string]error{"w": noKind},
			wantErr: "Widget/team/w",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			actions := map[string]ssa.Action{}
			for _, o := range tc.objs {
				actions[o.GetName()] = ssa.CreatedAction
			}
			got, err := Objects(context.Background(), &fakeDiffer{actions: actions, errs: tc.errs}, "p", tc.objs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Objects error = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Objects = %+v, want %+v", got, tc.want)
			}
			for i := range tc.want {
				if got[i] != tc.want[i] {
					t.Errorf("change %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func withAnnotation(o *unstructured.Unstructured, key, value string) *unstructured.Unstructured {
	c := o.DeepCopy()
	a := c.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	c.SetAnnotations(a)
	return c
}

// TestObjectsMasksLastAppliedOfSecrets: a client-side `kubectl apply` copies a
// Secret's data into an annotation; the diff must not show it.
func TestDiffObjectsMasksLastAppliedOfSecrets(t *testing.T) {
	const leakLive, leakGit = `{"data":{"token":"bGl2ZQ=="}}`, `{"data":{"token":"Z2l0"}}`
	secret := func(name, rotation string) *unstructured.Unstructured {
		u := configMap("ns", name, map[string]any{"token": "***"})
		u.SetKind("Secret")
		return withAnnotation(u, "rotation", rotation)
	}
	for _, tc := range []struct {
		name         string
		live, merged *unstructured.Unstructured
		want, absent []string
	}{
		{
			name:   "same annotation on both sides, next to a change",
			live:   withAnnotation(secret("s", "1"), redact.LastApplied, leakLive),
			merged: withAnnotation(secret("s", "2"), redact.LastApplied, leakLive),
			want:   []string{"kubectl.kubernetes.io/last-applied-configuration: '***'", "-    rotation: \"1\"", "+    rotation: \"2\""},
			absent: []string{leakLive},
		},
		{
			name:   "annotation changed",
			live:   withAnnotation(secret("s", "1"), redact.LastApplied, leakLive),
			merged: withAnnotation(secret("s", "1"), redact.LastApplied, leakGit),
			want:   []string{"-    kubectl.kubernetes.io/last-applied-configuration: '*** (before)'", "+    kubectl.kubernetes.io/last-applied-configuration: '*** (after)'"},
			absent: []string{leakLive, leakGit},
		},
		{
			name:   "annotation only live",
			live:   withAnnotation(secret("s", "1"), redact.LastApplied, leakLive),
			merged: secret("s", "2"),
			want:   []string{"-    kubectl.kubernetes.io/last-applied-configuration: '***'"},
			absent: []string{leakLive},
		},
		{
			name:   "ConfigMaps are not masked",
			live:   withAnnotation(withAnnotation(configMap("ns", "s", nil), "rotation", "1"), redact.LastApplied, leakLive),
			merged: withAnnotation(withAnnotation(configMap("ns", "s", nil), "rotation", "2"), redact.LastApplied, leakLive),
			want:   []string{leakLive},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDiffer{
				actions: map[string]ssa.Action{"s": ssa.ConfiguredAction},
				live:    map[string]*unstructured.Unstructured{"s": tc.live},
				merged:  map[string]*unstructured.Unstructured{"s": tc.merged},
			}
			got, err := Objects(context.Background(), d, "p", []*unstructured.Unstructured{tc.merged})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Action != Configured {
				t.Fatalf("Objects = %+v, want one configured change", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0].Diff, w) {
					t.Errorf("diff lacks %q:\n%s", w, got[0].Diff)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(got[0].Diff, a) {
					t.Errorf("diff reveals %q:\n%s", a, got[0].Diff)
				}
			}
		})
	}
}

// A dry run the API server refuses with a message echoing a Secret's value
// fails without the value.
func TestDiffObjectsRedactsErrors(t *testing.T) {
	secret := configMap("ns", "s", nil)
	secret.SetKind("Secret")
	secret.Object["stringData"] = map[string]any{"pin": int64(734910582736)}
	d := &fakeDiffer{errs: map[string]error{"s": errors.New(".stringData.pin: expected string, got &value.valueUnstructured{Value:734910582736}")}}
	_, err := Objects(context.Background(), d, "p", []*unstructured.Unstructured{secret})
	if err == nil || strings.Contains(err.Error(), "734910582736") || !strings.Contains(err.Error(), "Value:***") {
		t.Fatalf("Objects error = %v, want one naming the field without its value", err)
	}
}
