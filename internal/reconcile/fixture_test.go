package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fleetFixture is a small fleet repo on disk that tests edit between syncs.
type fleetFixture struct {
	t   *testing.T
	dir string
}

const fixtureFleet = `apiVersion: syncd.dev/v1alpha1
kind: Fleet
metadata: {name: test}
spec:
  channels: [dev, prod]
`

func fixtureSite(name string) string {
	return `apiVersion: syncd.dev/v1alpha1
kind: Site
metadata: {name: ` + name + `, labels: {class: prod}}
spec: {channel: prod}
`
}

func fixtureProduct(name, namespace string, deps ...string) string {
	s := `apiVersion: syncd.dev/v1alpha1
kind: Product
metadata: {name: ` + name + `}
spec:
  targets: "site.labels.class == 'prod'"
  namespace: ` + namespace + "\n"
	if len(deps) > 0 {
		s += "  dependencies:\n"
		for _, d := range deps {
			p, min, _ := strings.Cut(d, "@")
			s += "  - {product: " + p + ", minVersion: " + min + "}\n"
		}
	}
	return s
}

func fixtureChannels(product, version string) string {
	return `apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata: {name: ` + product + `}
spec: {prod: ` + version + `}
`
}

// fixtureRelease is a namespace, a ConfigMap and a Deployment of image:version.
func fixtureRelease(namespace, name, image string) map[string]string {
	return map[string]string{
		"kustomization.yaml": "resources: [ns.yaml, cm.yaml, deploy.yaml]\n",
		"ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + namespace + "}\n",
		"cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "-config}\ndata: {level: info}\n",
		"deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `}
spec:
  replicas: 1
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers:
      - {name: app, image: "` + image + `"}
`,
	}
}

func newFleetFixture(t *testing.T, site string) *fleetFixture {
	f := &fleetFixture{t: t, dir: t.TempDir()}
	f.write("fleet.yaml", fixtureFleet)
	f.write("sites/"+site+"/site.yaml", fixtureSite(site))
	return f
}

func (f *fleetFixture) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleetFixture) remove(name string) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.dir, name)); err != nil {
		f.t.Fatal(err)
	}
}

// addProduct writes a product with one release and its channel file.
func (f *fleetFixture) addProduct(name, namespace, version, image string, deps ...string) {
	f.write("products/"+name+"/product.yaml", fixtureProduct(name, namespace, deps...))
	f.addRelease(name, namespace, version, image)
	f.write("channels/"+name+".yaml", fixtureChannels(name, version))
}

func (f *fleetFixture) addRelease(name, namespace, version, image string) {
	for file, content := range fixtureRelease(namespace, name, image) {
		f.write("products/"+name+"/releases/"+version+"/"+file, content)
	}
}

// plan plans site from the fixture's current files.
func (f *fleetFixture) plan(site string) *Plan {
	f.t.Helper()
	p, err := PlanSite(context.Background(), os.DirFS(f.dir), site, "rev")
	if err != nil {
		f.t.Fatalf("PlanSite: %v", err)
	}
	return p
}

// newTestReconciler returns a Reconciler for site on c with a short health
// wait, through a client that knows syncd's Conflict type, with the Conflict
// CRD installed.
func newTestReconciler(t *testing.T, c *testenv.Cluster, site string) *Reconciler {
	t.Helper()
	return newTestReconcilerWith(t, c, Config{Site: site, Namespace: "syncd-system", HealthTimeout: 500 * time.Millisecond, Progress: testWriter{t}})
}

// newTestReconcilerWith is newTestReconciler with cfg (its Discovery is set).
func newTestReconcilerWith(t *testing.T, c *testenv.Cluster, cfg Config) *Reconciler {
	t.Helper()
	ctx := context.Background()
	cl, err := client.New(c.Config, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "syncd-system"}}
	_ = cl.Create(ctx, ns)
	if err := conflict.NewStore(cl, "syncd-system").Install(ctx); err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Discovery = disc
	return New(cl, cl.RESTMapper(), cfg)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
