package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/verify"
	"github.com/syncd-dev/syncd/internal/verify/verifytest"
)

// benchVerify measures what cosign image verification adds to a sync: a
// site of n products of one Deployment each, n distinct images pushed by tag
// to an in-process OCI registry and signed there with a key generated here.
// The same site is synced with every product declaring signing keys and
// without any, in-process (the verifier's cache lives in the process, as in
// `syncd run`), against a real API server; the registry counts the requests
// each step makes.
func benchVerify(ctx context.Context, n int) error {
	reg, err := verifytest.Start()
	if err != nil {
		return err
	}
	defer reg.Close()
	key, err := verifytest.GenerateKey()
	if err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		d, err := reg.PushImage("bench/"+productName(i), "1.0.0")
		if err != nil {
			return err
		}
		if err := verifytest.SignImage(key, d, d); err != nil {
			return err
		}
	}
	fmt.Printf("\nverify: pushed and cosign-signed %d images in an in-process registry on %s in %s\n",
		n, reg.Host, time.Since(start).Round(time.Millisecond))

	work, err := os.MkdirTemp("", "syncd-bench-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	signed, plain := filepath.Join(work, "signed"), filepath.Join(work, "plain")
	if err := generateImageFleet(signed, "signed", reg.Host, n, key.PublicPEM); err != nil {
		return err
	}
	if err := generateImageFleet(plain, "plain", reg.Host, n, nil); err != nil {
		return err
	}

	c, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return err
	}
	defer c.Stop()
	cl, err := client.New(c.Config, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		return err
	}
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "syncd-system"}}); err != nil {
		return err
	}
	if err := conflict.NewStore(cl, "syncd-system").Install(ctx); err != nil {
		return err
	}
	newReconciler := func(site string) *reconcile.Reconciler {
		return reconcile.New(cl, cl.RESTMapper(), reconcile.Config{Site: site, Namespace: "syncd-system", Images: verify.New()})
	}
	sync := func(r *reconcile.Reconciler, dir, site string) (time.Duration, int64, error) {
		before := reg.Requests()
		start := time.Now()
		plan, err := reconcile.PlanSite(ctx, os.DirFS(dir), site, "bench")
		if err != nil {
			return 0, 0, err
		}
		rep, err := r.Sync(ctx, plan)
		if err != nil {
			return 0, 0, err
		}
		if err := rep.Err(); err != nil {
			return 0, 0, fmt.Errorf("sync of site %s: %w", site, err)
		}
		return time.Since(start), reg.Requests() - before, nil
	}

	// A first sync pays for the API server's first requests of a kind:
	// paid here, on another site, so that neither measured first sync does.
	warm := filepath.Join(work, "warmup")
	if err := generateImageFleet(warm, "warmup", reg.Host, 1, nil); err != nil {
		return err
	}
	if _, _, err := sync(newReconciler("warmup"), warm, "warmup"); err != nil {
		return fmt.Errorf("warm-up sync: %w", err)
	}

	w := newTable()
	fmt.Fprintf(w, "sync of %d products, %d images (in one process)\twall\tregistry requests\t\n", n, n)
	signedRec, plainRec := newReconciler("signed"), newReconciler("plain")
	for _, step := range []struct {
		name      string
		r         func() *reconcile.Reconciler
		dir, site string
	}{
		{"without signing: first sync", func() *reconcile.Reconciler { return plainRec }, plain, "plain"},
		{"without signing: no-op re-sync", func() *reconcile.Reconciler { return plainRec }, plain, "plain"},
		{"signed: first sync (empty cache)", func() *reconcile.Reconciler { return signedRec }, signed, "signed"},
		{"signed: no-op re-sync (cached)", func() *reconcile.Reconciler { return signedRec }, signed, "signed"},
		{"signed: no-op re-sync after a restart (empty cache)", func() *reconcile.Reconciler { return newReconciler("signed") }, signed, "signed"},
	} {
		wall, requests, err := sync(step.r(), step.dir, step.site)
		if err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t\n", step.name, wall.Round(time.Millisecond), requests)
	}
	// Verification alone: the verifier of a restarted process on the
	// renders of the signed site.
	plan, err := reconcile.PlanSite(ctx, os.DirFS(signed), "signed", "bench")
	if err != nil {
		return err
	}
	v := verify.New()
	before, start := reg.Requests(), time.Now()
	for _, pp := range plan.Products {
		if _, err := v.Verify(ctx, pp.Name, pp.SigningKeys, pp.Objects); err != nil {
			return fmt.Errorf("verifying %s: %w", pp.Name, err)
		}
	}
	fmt.Fprintf(w, "verification alone (empty cache, no API server)\t%s\t%d\t\n", time.Since(start).Round(time.Millisecond), reg.Requests()-before)
	return w.Flush()
}

// generateImageFleet writes a fleet repo with one site and n products of one
// Deployment each, whose image is host/bench/<product>:1.0.0, in namespace
// bench-<site>. With pub, every product requires signatures by it
// (keys/bench.pub).
func generateImageFleet(dir, site, host string, n int, pub []byte) error {
	ns := "bench-" + site
	signing := ""
	files := map[string]string{
		"fleet.yaml":                   "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec: {channels: [prod]}\n",
		"sites/" + site + "/site.yaml": fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: %s}\nspec: {channel: prod}\n", site),
	}
	if pub != nil {
		files["keys/bench.pub"] = string(pub)
		signing = ", signing: {keys: [bench]}"
	}
	for i := 0; i < n; i++ {
		p := productName(i)
		files["products/"+p+"/product.yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: %s}\nspec: {targets: \"true\", namespace: %s%s}\n", p, ns, signing)
		files["channels/"+p+".yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {prod: 1.0.0}\n", p)
		rel := "products/" + p + "/releases/1.0.0/"
		resources := "[deployment.yaml]"
		if i == 0 {
			files[rel+"namespace.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
			resources = "[namespace.yaml, deployment.yaml]"
		}
		files[rel+"kustomization.yaml"] = "resources: " + resources + "\n"
		files[rel+"deployment.yaml"] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: %[2]s/bench/%[1]s:1.0.0
`, p, host)
	}
	return writeFiles(dir, files)
}
