package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// generateFleet writes a fleet repo with one site "bench" and n products,
// each a release 1.0.0 of a Namespace-less set of 4 objects in its own
// namespace (ServiceAccount, ConfigMap, Service, Deployment).
func generateFleet(dir string, n int) error {
	files := map[string]string{
		"fleet.yaml":            "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec: {channels: [prod]}\n",
		"sites/bench/site.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: bench, labels: {class: bench}}\nspec: {channel: prod}\n",
	}
	for i := 0; i < n; i++ {
		p := productName(i)
		files["products/"+p+"/product.yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: %s}\nspec: {targets: \"true\", namespace: bench}\n", p)
		files["channels/"+p+".yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {prod: 1.0.0}\n", p)
		for name, content := range release(p, "1.0.0") {
			files["products/"+p+"/releases/1.0.0/"+name] = content
		}
	}
	files["products/"+productName(0)+"/releases/1.0.0/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n"
	files["products/"+productName(0)+"/releases/1.0.0/kustomization.yaml"] = "resources: [namespace.yaml, objects.yaml]\n"
	return writeFiles(dir, files)
}

func productName(i int) string { return fmt.Sprintf("p%04d", i) }

func release(p, version string) map[string]string {
	return map[string]string{
		"kustomization.yaml": "resources: [objects.yaml]\n",
		"objects.yaml": fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s-config}
data: {LOG_LEVEL: info, FEATURE_FLAGS: "a,b,c", ENDPOINT: "https://%[1]s.example.com"}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  selector: {app: %[1]s}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: app
        image: registry.example.com/acme/%[1]s:%[2]s
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 32Mi}}
`, p, version),
	}
}

// bumpProduct points product i's channel at a new release 1.0.1.
func bumpProduct(dir string, i int) error {
	p := productName(i)
	files := map[string]string{"channels/" + p + ".yaml": fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {prod: 1.0.1}\n", p)}
	for name, content := range release(p, "1.0.1") {
		files["products/"+p+"/releases/1.0.1/"+name] = content
	}
	files["products/"+p+"/releases/1.0.1/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n"
	files["products/"+p+"/releases/1.0.1/kustomization.yaml"] = "resources: [namespace.yaml, objects.yaml]\n"
	return writeFiles(dir, files)
}

// unbumpProduct points product i's channel back at 1.0.0.
func unbumpProduct(dir string, i int) error {
	p := productName(i)
	return writeFiles(dir, map[string]string{"channels/" + p + ".yaml": fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {prod: 1.0.0}\n", p)})
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
