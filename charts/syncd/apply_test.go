package syncd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
)

const fieldOwner = client.FieldOwner("chart-test")

func applyObject(ctx context.Context, c client.Client, o *unstructured.Unstructured, opts ...client.ApplyOption) error {
	opts = append([]client.ApplyOption{fieldOwner, client.ForceOwnership}, opts...)
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...)
}

// Every object the chart renders, from default and from non-default values,
// is accepted by a real kube-apiserver (server-side apply, dry run), after the
// namespaces and the CRD exist as `helm install` would have them; and the RBAC
// it renders grants syncd what it needs and no more.
func TestChartAppliesToAPIServer(t *testing.T) {
	cluster := testenv.NewCluster(t, testenv.ClusterOptions{})
	ctx := t.Context()
	c := cluster.Client
	ch := loadChart(t)

	// The release namespaces (helm install -n NS --create-namespace) and the
	// namespaces rbac.namespaces names, for real: namespaced dry runs need them.
	for _, ns := range []string{"syncd-system", "fleet-agent", "team-a", "team-b"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}

	// The CRD from crds/, for real, as helm installs it before the templates.
	crds := ch.CRDObjects()
	if len(crds) != 1 {
		t.Fatalf("chart CRDs %v, want conflicts.syncd.dev", crds)
	}
	crdObjs, err := decodeObjects(crds[0].File.Data)
	if err != nil || len(crdObjs) != 1 || crdObjs[0].GetName() != "conflicts.syncd.dev" {
		t.Fatalf("decoding %s: %v (%d objects)", crds[0].Filename, err, len(crdObjs))
	}
	crd := crdObjs[0]
	if err := applyObject(ctx, c, crd); err != nil {
		t.Fatalf("applying the CRD: %v", err)
	}
	waitEstablished(t, c, crd.GetName())

	renderings := map[string]*rendered{}
	for _, tc := range []struct {
		name, namespace string
		vals            map[string]any
	}{
		{"defaults", "syncd-system", requiredValues()},
		{"custom", "fleet-agent", customValues()},
		{"trust", "syncd-system", trustValues()},
		{"trust from an existing Secret", "syncd-system", with(with(requiredValues(), "trust.existingSecret", "supply-chain"),
			"trust.existingSecretKeys", []any{"allowed_signers", "signing_key", "registry-config.json", "status_identity"})},
	} {
		t.Run("dry-run "+tc.name, func(t *testing.T) {
			r := mustRender(t, tc.vals, tc.namespace)
			renderings[tc.name] = r
			if len(r.objects) < 10 {
				t.Fatalf("only %d objects rendered: %v", len(r.objects), r.ids())
			}
			for _, o := range r.objects {
				if err := applyObject(ctx, c, o, client.DryRunAll); err != nil {
					t.Errorf("dry-run apply of %s: %v", objectID(o), err)
				}
			}
			// A dry run creates nothing.
			dep := &unstructured.Unstructured{}
			dep.SetAPIVersion("apps/v1")
			dep.SetKind("Deployment")
			if err := c.Get(ctx, client.ObjectKey{Namespace: tc.namespace, Name: "syncd"}, dep); !apierrors.IsNotFound(err) {
				t.Errorf("after a dry run, getting the Deployment: %v, want not found", err)
			}
		})
	}
	def := renderings["defaults"]
	if def == nil || t.Failed() {
		t.FailNow()
	}

	// The dry run does validate: a misspelled field and a wrong type in the
	// Deployment are refused.
	for _, mutate := range []struct {
		what string
		set  func(u *unstructured.Unstructured) error
	}{
		{"misspelled field", func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, true, "spec", "template", "spec", "securityContxt", "runAsNonRoot")
		}},
		{"wrong type", func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "two", "spec", "replicas")
		}},
	} {
		var dep *unstructured.Unstructured
		for _, o := range def.objects {
			if o.GetKind() == "Deployment" {
				dep = o.DeepCopy()
			}
		}
		if err := mutate.set(dep); err != nil {
			t.Fatal(err)
		}
		if err := applyObject(ctx, c, dep, client.DryRunAll); err == nil {
			t.Errorf("dry-run apply of a Deployment with a %s succeeded", mutate.what)
		}
	}

	t.Run("least privilege", func(t *testing.T) {
		r := renderings["custom"]
		if r == nil {
			t.Fatal("custom values not rendered")
		}
		// The ServiceAccount and RBAC for real, so the authorizer uses them.
		for _, o := range r.objects {
			if o.GetKind() == "ServiceAccount" || strings.HasPrefix(o.GetAPIVersion(), "rbac.authorization.k8s.io/") {
				if err := applyObject(ctx, c, o); err != nil {
					t.Fatalf("applying %s: %v", objectID(o), err)
				}
			}
		}
		const ns = "fleet-agent"
		user := "system:serviceaccount:" + ns + ":fleet-agent"
		groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
		type access = authorizationv1.ResourceAttributes
		allowed := []access{
			{Verb: "create", Resource: "configmaps", Namespace: ns},
			{Verb: "delete", Resource: "configmaps", Namespace: ns, Name: "syncd-inventory-x"},
			{Verb: "watch", Group: "syncd.dev", Resource: "conflicts", Namespace: ns},
			{Verb: "update", Group: "syncd.dev", Resource: "conflicts", Subresource: "status", Namespace: ns},
			{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: ns},
			{Verb: "get", Resource: "secrets", Namespace: ns, Name: "syncd-value-key.gcp-eu-west-1-staging"},
			{Verb: "create", Resource: "secrets", Namespace: ns},
			{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: ns, Name: "syncd-gcp-eu-west-1-staging"},
			{Verb: "get", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "conflicts.syncd.dev"},
			{Verb: "patch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "conflicts.syncd.dev"},
			{Verb: "create", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Verb: "create", Resource: "events", Namespace: "kube-system"},
			{Verb: "create", Group: "authentication.k8s.io", Resource: "selfsubjectreviews"},
			// The managed kinds: read everywhere, written in team-a and team-b.
			{Verb: "list", Group: "apps", Resource: "deployments"},
			{Verb: "watch", Resource: "services"},
			{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "team-a", Name: "web"},
			{Verb: "delete", Resource: "configmaps", Namespace: "team-b", Name: "web"},
		}
		denied := []access{
			{Verb: "patch", Group: "apps", Resource: "deployments", Namespace: "kube-system", Name: "coredns"},
			{Verb: "create", Group: "apps", Resource: "deployments"},
			{Verb: "create", Resource: "configmaps", Namespace: "default"},
			{Verb: "list", Resource: "secrets"},
			{Verb: "get", Resource: "secrets", Namespace: ns, Name: "fleet-deploy-key"},
			{Verb: "get", Resource: "secrets", Namespace: ns, Name: "syncd-value-key.another-site"},
			{Verb: "patch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Name: "widgets.example.com"},
			{Verb: "create", Group: "syncd.dev", Resource: "conflicts", Namespace: "team-a"},
			{Verb: "delete", Group: "coordination.k8s.io", Resource: "leases", Namespace: ns, Name: "syncd-gcp-eu-west-1-staging"},
			{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		}
		can := func(a access) (bool, error) {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: groups, ResourceAttributes: &a,
			}}
			if err := c.Create(ctx, sar); err != nil {
				return false, err
			}
			return sar.Status.Allowed, nil
		}
		// RBAC reaches the authorizer through an informer: wait for it.
		for _, a := range allowed {
			var last error
			err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
				ok, err := can(a)
				last = err
				return ok, nil
			})
			if err != nil {
				t.Errorf("%s may not %+v (last error %v)", user, a, last)
			}
		}
		for _, a := range denied {
			if ok, err := can(a); err != nil || ok {
				t.Errorf("%s may %+v (error %v), want denied", user, a, err)
			}
		}

		// What syncd does at start, as syncd: install the Conflict CRD by
		// server-side apply, forcing ownership (dry run).
		cfg := rest.CopyConfig(cluster.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
		asSyncd, err := client.New(cfg, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := asSyncd.Apply(ctx, client.ApplyConfigurationFromUnstructured(crd.DeepCopy()),
			client.FieldOwner("syncd"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("as syncd, applying the Conflict CRD: %v", err)
		}
	})
}

func waitEstablished(t *testing.T, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
}
