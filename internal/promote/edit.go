package promote

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// SetChannel returns the channels file data with channel set to version,
// editing the YAML nodes so that comments, order and style survive. A
// channel missing from spec is appended.
func SetChannel(data []byte, channel, version string) ([]byte, error) {
	doc, err := parseDoc(data)
	if err != nil {
		return nil, err
	}
	spec, err := mapping(doc, "spec")
	if err != nil {
		return nil, err
	}
	setScalar(spec, channel, version)
	return encode(doc)
}

// MarkRecalled returns release.yaml data (nil when the release has none
// yet) with spec.recalled true and spec.reason set, keeping the rest.
func MarkRecalled(data []byte, product, version, reason string) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = fmt.Appendf(nil, "apiVersion: syncd.dev/v1alpha1\nkind: Release\nmetadata:\n  name: %s-%s\nspec:\n  recalled: false\n", product, version)
	}
	doc, err := parseDoc(data)
	if err != nil {
		return nil, err
	}
	spec, err := mapping(doc, "spec")
	if err != nil {
		return nil, err
	}
	setScalar(spec, "recalled", "true")
	setScalar(spec, "reason", reason)
	return encode(doc)
}

func parseDoc(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a YAML mapping")
	}
	return &doc, nil
}

// mapping is the mapping under key of doc's top-level mapping, created
// when missing.
func mapping(doc *yaml.Node, key string) (*yaml.Node, error) {
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == key {
			v := top.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			if v.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s: not a mapping (line %d)", key, v.Line)
			}
			return v, nil
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v, nil
}

// setScalar sets key of mapping m to value (a bool for "true"/"false", a
// string otherwise), keeping the key's comments.
func setScalar(m *yaml.Node, key, value string) {
	tag := "!!str"
	if value == "true" || value == "false" {
		tag = "!!bool"
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			v.Kind, v.Tag, v.Value, v.Content = yaml.ScalarNode, tag, value, nil
			if tag == "!!bool" || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				v.Style = 0
			}
			return
		}
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value})
}

func encode(doc *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
