package reconcile

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/verify"
	"github.com/syncd-dev/syncd/internal/verify/verifytest"
)

// signedProduct writes a product whose images must be signed by keys/ci.pub.
func (f *fleetFixture) signedProduct(name, namespace, version, image string, key *verifytest.Key) {
	f.write("keys/ci.pub", string(key.PublicPEM))
	f.write("products/"+name+"/product.yaml", fixtureProduct(name, namespace)+"  signing: {keys: [ci]}\n")
	f.addRelease(name, namespace, version, image)
	f.write("channels/"+name+".yaml", fixtureChannels(name, version))
}

func deploymentImage(t *testing.T, c client.Client, ns, name string) string {
	t.Helper()
	d := &appsv1.Deployment{}
	if !exists(t, c, d, ns, name) {
		t.Fatalf("deployment %s/%s does not exist", ns, name)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// A signed image is applied pinned to the digest verified; a product whose
// image fails is neither applied nor pruned and says which image and why; a
// registry outage blocks the product until the registry is back; a no-op
// resync asks the registry nothing.
func TestSyncVerifiesImages(t *testing.T) {
	c := sharedCluster(t)
	const site = "sig"
	reg := verifytest.NewRegistry(t)
	key := verifytest.NewKey(t)
	v1 := reg.Push("acme/web", "1")
	reg.Sign(key, v1)
	f := newFleetFixture(t, site)
	f.signedProduct("web", "sig-web", "1.0.0", reg.Host+"/acme/web:1", key)
	r := newTestReconciler(t, c, site)
	r.cfg.Images = verify.New()
	ctx := context.Background()

	// The registry is down at first: nothing is applied.
	reg.SetDown(true)
	rep := syncOnce(t, r, f.plan(site))
	var ve *verify.Error
	if res := result(t, rep, "web"); !errors.As(res.Err, &ve) || ve.Failures[0].Reason != verify.RegistryUnreachable {
		t.Fatalf("registry down: web result %+v, want registry-unreachable", res)
	}
	if exists(t, c.Client, &appsv1.Deployment{}, "sig-web", "web") {
		t.Fatal("applied while its image could not be verified")
	}

	reg.SetDown(false)
	rep = syncOnce(t, r, f.plan(site))
	if err := rep.Err(); err != nil {
		t.Fatalf("registry back: %v", err)
	}
	want := reg.Host + "/acme/web:1@" + v1.DigestStr()
	if got := deploymentImage(t, c.Client, "sig-web", "web"); got != want {
		t.Errorf("applied image %s, want the verified digest pinned: %s", got, want)
	}

	before := reg.Requests()
	rep = syncOnce(t, r, f.plan(site))
	if res := result(t, rep, "web"); res.Err != nil || res.Unchanged == 0 {
		t.Errorf("no-op resync: %+v", res)
	}
	if n := reg.Requests() - before; n != 0 {
		t.Errorf("a no-op resync made %d registry request(s), want 0", n)
	}

	// 2.0.0 is unsigned and drops the ConfigMap: not applied, not pruned.
	reg.Push("acme/web", "2")
	f.addRelease("web", "sig-web", "2.0.0", reg.Host+"/acme/web:2")
	f.write("products/web/releases/2.0.0/kustomization.yaml", "resources: [ns.yaml, deploy.yaml]\n")
	f.write("channels/web.yaml", fixtureChannels("web", "2.0.0"))
	rep = syncOnce(t, r, f.plan(site))
	res := result(t, rep, "web")
	if !errors.As(res.Err, &ve) || ve.Failures[0].Reason != verify.Unsigned || ve.Failures[0].Image != reg.Host+"/acme/web:2" {
		t.Fatalf("unsigned 2.0.0: web result %+v", res)
	}
	if got := deploymentImage(t, c.Client, "sig-web", "web"); got != want {
		t.Errorf("image %s after a failed verification, want %s kept", got, want)
	}
	if !exists(t, c.Client, &corev1.ConfigMap{}, "sig-web", "web-config") {
		t.Error("a product that failed verification was pruned")
	}
	events := &corev1.EventList{}
	if err := c.Client.List(ctx, events, client.InNamespace("sig-web")); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events.Items {
		found = found || e.Reason == "VerificationFailed" && e.InvolvedObject.Name == "web"
	}
	if !found {
		t.Error("no VerificationFailed event on the Deployment")
	}

	// Diff says the same, and changes nothing.
	if _, err := r.Diff(ctx, f.plan(site)); !errors.As(err, &ve) {
		t.Errorf("Diff error = %v, want the verification failure", err)
	}
}

// Without an image verifier, a product with a signing policy is blocked.
func TestSyncWithoutVerifierBlocksSignedProducts(t *testing.T) {
	c := sharedCluster(t)
	const site = "sig-none"
	f := newFleetFixture(t, site)
	f.signedProduct("web", "sig-none", "1.0.0", "registry.invalid/acme/web:1", verifytest.NewKey(t))
	r := newTestReconciler(t, c, site)
	rep := syncOnce(t, r, f.plan(site))
	if res := result(t, rep, "web"); !errors.Is(res.Err, errNoImageVerifier) {
		t.Fatalf("web result %+v, want blocked without a verifier", res)
	}
	if exists(t, c.Client, &appsv1.Deployment{}, "sig-none", "web") {
		t.Fatal("applied without verification")
	}
}
