package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// demoTiming rewrites the demo's copy of the fleet repo in dir so that its
// pipelines run while someone watches: every timed stage lasts stage, every
// canary soak is stage, neither the pipelines nor the sites have
// maintenance windows, and there is no ramp (rollout: the demo's few sites
// would otherwise wait hours for their turn). Approvals are kept (a pull-request stage still pushes
// a branch). examples/fleet-repo itself is never touched.
func demoTiming(dir string, stage time.Duration) error {
	fleetFile := filepath.Join(dir, "fleet.yaml")
	if err := rewriteYAML(fleetFile, func(doc *yaml.Node) error {
		mapDelete(mapGet(doc, "spec"), "rollout")
		return shortenPipelines(doc, stage)
	}); err != nil {
		return err
	}
	sites, err := filepath.Glob(filepath.Join(dir, "sites", "*", "site.yaml"))
	if err != nil {
		return err
	}
	for _, s := range sites {
		if err := rewriteYAML(s, func(doc *yaml.Node) error {
			mapDelete(mapGet(doc, "spec"), "maintenanceWindows")
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// shortenPipelines edits a fleet.yaml document in place.
func shortenPipelines(doc *yaml.Node, stage time.Duration) error {
	pipelines := mapGet(mapGet(doc, "spec"), "pipelines")
	if pipelines == nil || pipelines.Kind != yaml.SequenceNode {
		return fmt.Errorf("fleet.yaml: no spec.pipelines list")
	}
	d := shortDuration(stage)
	for _, p := range pipelines.Content {
		mapDelete(p, "maintenanceWindow")
		stages := mapGet(p, "stages")
		if stages == nil {
			continue
		}
		for _, s := range stages.Content {
			setScalar(mapGet(mapGet(s, "timed"), "duration"), d)
			canary := mapGet(s, "canary")
			setScalar(mapGet(mapGet(canary, "promoteWhenHealthy"), "soak"), d)
			setScalar(mapGet(mapGet(canary, "recallWhenUnhealthy"), "soak"), d)
		}
	}
	return nil
}

// shortDuration writes d without zero trailing units: 1m, not 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// rewriteYAML applies edit to the YAML document in path, keeping comments.
func rewriteYAML(path string, edit func(doc *yaml.Node) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return fmt.Errorf("%s: want one YAML document", path)
	}
	if err := edit(root.Content[0]); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// mapGet returns the value of key in mapping node m, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// mapDelete removes key from mapping node m.
func mapDelete(m *yaml.Node, key string) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func setScalar(n *yaml.Node, v string) {
	if n != nil && n.Kind == yaml.ScalarNode {
		n.Value, n.Tag, n.Style = v, "!!str", 0
	}
}

// demoRelease is the release the demo ships to dev once the sites run.
type demoRelease struct {
	Product, From, Version string
}

// addRelease writes release r into the fleet repo checkout dir: a copy of
// release r.From with every mention of that version replaced, labeled
// qa: passed (the canary stage requires it), and points channel dev to it.
func addRelease(dir string, r demoRelease) error {
	releases := filepath.Join(dir, "products", r.Product, "releases")
	src, dst := filepath.Join(releases, r.From), filepath.Join(releases, r.Version)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), bytes.ReplaceAll(data, []byte(r.From), []byte(r.Version)), 0o644)
	})
	if err != nil {
		return fmt.Errorf("copying release %s %s: %w", r.Product, r.From, err)
	}
	release := fmt.Sprintf(`apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: %s-%s
  labels:
    qa: passed
spec:
  recalled: false
`, r.Product, r.Version)
	if err := os.WriteFile(filepath.Join(dst, "release.yaml"), []byte(release), 0o644); err != nil {
		return err
	}
	channels := filepath.Join(dir, "channels", r.Product+".yaml")
	return rewriteYAML(channels, func(doc *yaml.Node) error {
		dev := mapGet(mapGet(doc, "spec"), "dev")
		if dev == nil || strings.TrimSpace(dev.Value) == "" {
			return fmt.Errorf("no spec.dev")
		}
		setScalar(dev, r.Version)
		return nil
	})
}
