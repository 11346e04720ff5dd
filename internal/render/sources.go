package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Source is where a rendered object is declared in the fleet repo, so that
// an error about the object (an apply refused, a policy violated) can name
// the file and the line.
type Source struct {
	// File is the repo-relative path of the YAML file.
	File string
	// Line is the 1-based line where the object's document starts.
	Line int

	// The object's mapping node is doc when set; otherwise it is parsed
	// again, when a field's line is asked for (an error to place), from
	// text, the whole file (shared by the Sources of its documents), as the
	// index-th of its documents. A parsed node costs some twenty times the
	// bytes of its text, and a daemon keeps the Sources of every object of
	// its site for as long as it serves a revision.
	doc   *yaml.Node
	text  string
	index int
}

// node returns the object's mapping node, or nil when unknown.
func (s Source) node() *yaml.Node {
	if s.doc != nil || s.text == "" {
		return s.doc
	}
	if docs := documents([]byte(s.text)); s.index < len(docs) {
		return docs[s.index]
	}
	return nil
}

// FieldLine returns the line of the field at path, or of its nearest parent
// that exists in the file (the document's line when none does). path is a
// field path as the API server and structured-merge-diff write them:
// spec.template.spec.containers[0].image, .spec.replicas,
// metadata.labels[app] (a map key), or
// .spec.template.spec.containers[name="app"].image (a list element by key).
func (s Source) FieldLine(fieldPath string) int {
	line, _ := s.field(fieldPath)
	return line
}

// Declares reports whether the object's document writes the field at
// fieldPath (a path as FieldLine takes).
func (s Source) Declares(fieldPath string) bool {
	_, found := s.field(fieldPath)
	return found
}

// field returns the line of the field at fieldPath, or of its nearest
// parent in the file, and whether the field itself is there.
func (s Source) field(fieldPath string) (int, bool) {
	n, line := s.node(), s.Line
	for _, elem := range splitFieldPath(fieldPath) {
		if n == nil {
			return line, false
		}
		var next *yaml.Node
		switch {
		case n.Kind == yaml.SequenceNode && elem.index >= 0:
			if elem.index < len(n.Content) {
				next = n.Content[elem.index]
			}
		case n.Kind == yaml.SequenceNode && elem.keys != nil:
			for _, item := range n.Content {
				if matches(item, elem.keys) {
					next = item
					break
				}
			}
		case n.Kind == yaml.MappingNode && elem.index < 0 && elem.keys == nil:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == elem.name {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		}
		if next != nil && n.Kind == yaml.SequenceNode {
			line = next.Line
		}
		n = next
	}
	return line, n != nil
}

// matches reports whether the list item n has every key of keys (a
// key="value" selector; the empty key selects a scalar item by value).
func matches(n *yaml.Node, keys map[string]string) bool {
	if v, ok := keys[""]; ok {
		return n.Kind == yaml.ScalarNode && n.Value == v
	}
	for k, v := range keys {
		if scalarAt(n, k) != v {
			return false
		}
	}
	return true
}

// pathElem is one step of a field path: a field or map key (name), a list
// index (index >= 0) or a list element selected by its keys.
type pathElem struct {
	name  string
	index int // -1 unless an index
	keys  map[string]string
}

// splitFieldPath splits a.b[0].c[k="v"][key] into a, b, [0], c, [k="v"],
// key. A malformed bracket ends the path there.
func splitFieldPath(p string) []pathElem {
	var out []pathElem
	name := func(s string) {
		if s != "" {
			out = append(out, pathElem{name: s, index: -1})
		}
	}
	start := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '.':
			name(p[start:i])
			start = i + 1
		case '[':
			name(p[start:i])
			end := closingBracket(p, i)
			if end < 0 {
				return out
			}
			out = append(out, bracket(p[i+1:end]))
			i, start = end, end+1
		}
	}
	name(p[start:])
	return out
}

// closingBracket returns the index of the ] that closes the [ at open,
// skipping quoted strings; -1 when there is none.
func closingBracket(p string, open int) int {
	quoted := false
	for i := open + 1; i < len(p); i++ {
		switch {
		case p[i] == '\\' && quoted:
			i++
		case p[i] == '"':
			quoted = !quoted
		case p[i] == ']' && !quoted:
			return i
		}
	}
	return -1
}

// bracket parses the inside of [...]: an index, key="value" pairs (values
// quoted as JSON) or a map key.
func bracket(s string) pathElem {
	if i, err := strconv.Atoi(s); err == nil && i >= 0 {
		return pathElem{index: i}
	}
	if !strings.Contains(s, "=") {
		return pathElem{name: unquote(s), index: -1}
	}
	keys := map[string]string{}
	for _, pair := range splitPairs(s) {
		k, v, _ := strings.Cut(pair, "=")
		keys[k] = unquote(v)
	}
	return pathElem{index: -1, keys: keys}
}

// splitPairs splits a="x",b="y" at the commas outside quotes.
func splitPairs(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote returns the JSON string s unquoted, or s as is.
func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// At places err, an error about the object, at field of the object (a
// path as FieldLine takes), or at the object's document when field is
// empty.
func (s Source) At(field string, err error) *FieldError {
	line := s.Line
	if field != "" {
		line = s.FieldLine(field)
	}
	return &FieldError{File: s.File, Line: line, Field: strings.TrimPrefix(field, "."), Err: err}
}

// FieldError is an error about a rendered object, at the file and line of
// the fleet repo where the object, or the field the error blames, is
// written.
type FieldError struct {
	// File is the repo-relative path of the YAML file; Line is 1-based.
	File string
	Line int
	// Field is the path of the field blamed; empty for the whole object.
	Field string
	// Err is the error.
	Err error
}

// Error formats the error as FILE:LINE: FIELD: ERR.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Field, e.Err)
}

// Unwrap returns the error.
func (e *FieldError) Unwrap() error { return e.Err }

// Sources are the sources of a render's objects, by ObjectKey.
type Sources map[string]Source

// Of returns the source of o, if known.
func (s Sources) Of(o *unstructured.Unstructured) (Source, bool) {
	src, ok := s[ObjectKey(o)]
	return src, ok
}

// ObjectKey identifies a rendered object: group/Kind/namespace/name.
func ObjectKey(o *unstructured.Unstructured) string {
	return o.GroupVersionKind().Group + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// declared indexes the documents of the YAML files among files (in-memory
// paths; kustomizations skipped) by Kind/name, first file first.
func (r *Repo) declared(files []string) map[string]Source {
	out := map[string]Source{}
	for _, f := range files {
		if !isManifest(f) {
			continue
		}
		data, err := r.fs.ReadFile(f)
		if err != nil {
			continue
		}
		text := string(data)
		for i, doc := range documents(data) {
			kind, name := scalarAt(doc, "kind"), scalarAt(mapAt(doc, "metadata"), "name")
			key := kind + "/" + name
			if _, dup := out[key]; kind != "" && name != "" && !dup {
				out[key] = Source{File: repoPath(f), Line: doc.Line, text: text, index: i}
			}
		}
	}
	return out
}

// isManifest reports whether the in-memory path f is a YAML file that is not
// a kustomization.
func isManifest(f string) bool {
	switch path.Base(f) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return false
	}
	ext := path.Ext(f)
	return ext == ".yaml" || ext == ".yml"
}

// documents returns the top-level mappings of the YAML documents of data,
// stopping at the first that does not parse.
func documents(data []byte) []*yaml.Node {
	var out []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) || err != nil {
			return out
		}
		if len(n.Content) == 1 && n.Content[0].Kind == yaml.MappingNode {
			out = append(out, n.Content[0])
		}
	}
}

func mapAt(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalarAt(n *yaml.Node, key string) string {
	if v := mapAt(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// firstIncompleteObject returns an error naming the first document of the
// manifests among files that lacks apiVersion, kind or metadata.name (what
// kustomize refuses without naming the file or the line), or nil.
func (r *Repo) firstIncompleteObject(files []string) error {
	for _, f := range files {
		if !isManifest(f) {
			continue
		}
		data, err := r.fs.ReadFile(f)
		if err != nil {
			continue
		}
		for _, doc := range documents(data) {
			meta := mapAt(doc, "metadata")
			switch {
			case scalarAt(doc, "apiVersion") == "":
				return &SyntaxError{File: repoPath(f), Line: doc.Line, Msg: "apiVersion: required"}
			case scalarAt(doc, "kind") == "":
				return &SyntaxError{File: repoPath(f), Line: doc.Line, Msg: "kind: required"}
			case meta == nil:
				return &SyntaxError{File: repoPath(f), Line: doc.Line, Msg: "metadata.name: required"}
			case scalarAt(meta, "name") == "" && scalarAt(meta, "generateName") == "":
				return &SyntaxError{File: repoPath(f), Line: (Source{doc: doc, Line: doc.Line}).FieldLine("metadata"), Msg: "metadata.name: required"}
			}
		}
	}
	return nil
}
