package render

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	kusttypes "sigs.k8s.io/kustomize/api/types"
)

// kustDoc is a kustomization's YAML node tree, to report its problems at
// their line.
type kustDoc struct{ root *yaml.Node }

// parseKustomization parses well-formed YAML data (yamlSyntaxError has
// passed); root is nil unless the top level is a mapping.
func parseKustomization(data []byte) kustDoc {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil || len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return kustDoc{}
	}
	return kustDoc{root: n.Content[0]}
}

// kustomizationFields returns the top-level fields kustomize knows.
func kustomizationFields() map[string]bool {
	fields := map[string]bool{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case strings.Contains(opts, "inline") || f.Anonymous && name == "":
				add(f.Type)
			case name != "" && name != "-":
				fields[name] = true
			}
		}
	}
	add(reflect.TypeOf(kusttypes.Kustomization{}))
	return fields
}

// checkFields returns an error naming the first top-level field kustomize
// does not know (kustomize's own error names neither the file nor the line).
func (d kustDoc) checkFields(file string) error {
	if d.root == nil {
		return nil
	}
	known := kustomizationFields()
	for i := 0; i+1 < len(d.root.Content); i += 2 {
		k := d.root.Content[i]
		if !known[k.Value] {
			return fmt.Errorf("%s:%d: %s: unknown field of a kustomization", file, k.Line, k.Value)
		}
	}
	return nil
}

// fieldElem matches one element of a field path such as patches[0].path.
var fieldElem = regexp.MustCompile(`^([^.\[]+)(?:\[(\d+)\])?\.?`)

// line returns the line of the field at path (resources[2],
// patches[0].path), or of its nearest existing parent, or 1.
func (d kustDoc) line(path string) int {
	n, line := d.root, 1
	if n == nil {
		return line
	}
	line = n.Line
	for path != "" && n != nil {
		m := fieldElem.FindStringSubmatch(path)
		if m == nil {
			break
		}
		path = path[len(m[0]):]
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		}
		if next != nil && m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if next.Kind != yaml.SequenceNode || i >= len(next.Content) {
				break
			}
			next = next.Content[i]
			line = next.Line
		}
		n = next
	}
	return line
}
