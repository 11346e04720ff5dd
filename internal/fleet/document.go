package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/syncd-dev/syncd/internal/yamlpos"
)

// document is one parsed fleet file. It keeps the YAML node tree so that
// problems found after decoding can still be reported at their line, and it
// collects those problems.
type document struct {
	file string
	root *yaml.Node // a mapping node
	errs problems
}

// yamlLineError matches the position yaml.v3 puts in its syntax errors.
var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data as a single YAML document whose top level is a
// mapping. On failure the returned document carries the problem and has a
// nil root.
func parseDocument(file string, data []byte) *document {
	d := &document{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "file is empty")
		} else {
			d.syntaxError(data, err)
		}
		return d
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(data, err)
		return d
	default:
		d.errs = append(d.errs, &Error{File: file, Line: extra.Line, Msg: "a fleet file holds exactly one YAML document"})
		return d
	}
	root := &n
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.errs = append(d.errs, &Error{File: file, Line: root.Line, Msg: "top level must be a mapping"})
		return d
	}
	d.root = root
	return d
}

// syntaxError records a YAML parse error of data at the line an editor
// shows it on (yaml.v3's own line is one above it for many errors).
func (d *document) syntaxError(data []byte, err error) {
	e := &Error{File: d.file, Msg: err.Error()}
	if p := yamlpos.Check(data); p != nil {
		e.Line, e.Msg = p.Line, "invalid YAML: "+p.Msg
	} else if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "invalid YAML: " + m[2]
	}
	d.errs = append(d.errs, e)
}

// ok reports whether no problem has been found in the document.
func (d *document) ok() bool {
	return len(d.errs) == 0
}

// errorf records a problem about the field at p.
func (d *document) errorf(p fieldPath, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.line(p), Field: p.String(), Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of the field at p: the line of its key for a map
// entry or struct field, of the element for a list item. When p does not
// exist in the document (an absent required field), it returns the line of
// its nearest existing parent.
func (d *document) line(p fieldPath) int {
	if d.root == nil {
		return 0
	}
	line := d.root.Line
	n := d.root
	for _, e := range p {
		key, value := lookup(n, e)
		if value == nil {
			break
		}
		line = key.Line
		n = value
	}
	return line
}

// value returns the value node at p, or nil when p does not exist.
func (d *document) value(p fieldPath) *yaml.Node {
	n := d.root
	for _, e := range p {
		if n == nil {
			return nil
		}
		_, n = lookup(n, e)
	}
	return n
}

// lookup returns the node naming e inside n (the key of a mapping entry, or
// the list element itself) and e's value, or nils when n has no such child.
func lookup(n *yaml.Node, e pathElem) (key, value *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		if e.kind == indexElem {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == e.name {
				return n.Content[i], n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if e.kind == indexElem && e.index >= 0 && e.index < len(n.Content) {
			return n.Content[e.index], n.Content[e.index]
		}
	}
	return nil, nil
}
