package render

import (
	"bytes"
	"errors"
	"io"
	"path"
	"regexp"
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

	doc *yaml.Node // the object's mapping node
}

// FieldLine returns the line of the field at path (such as
// spec.template.spec.containers[0].image or .spec.replicas), or of its
// nearest parent that exists in the file.
func (s Source) FieldLine(fieldPath string) int {
	n, line := s.doc, s.Line
	for _, elem := range splitFieldPath(fieldPath) {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch {
		case elem.index >= 0 && n.Kind == yaml.SequenceNode && elem.index < len(n.Content):
			next = n.Content[elem.index]
			line = next.Line
		case elem.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == elem.name {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		}
		n = next
	}
	return line
}

type pathElem struct {
	name  string
	index int // -1 for a name
}

var indexSuffix = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// splitFieldPath splits a.b[0].c into a, b, [0], c.
func splitFieldPath(p string) []pathElem {
	var out []pathElem
	for _, part := range strings.Split(strings.TrimPrefix(p, "."), ".") {
		var idx []int
		for {
			m := indexSuffix.FindStringSubmatch(part)
			if m == nil {
				break
			}
			i, _ := strconv.Atoi(m[2])
			idx = append([]int{i}, idx...)
			part = m[1]
		}
		if part != "" {
			out = append(out, pathElem{name: part, index: -1})
		}
		for _, i := range idx {
			out = append(out, pathElem{index: i})
		}
	}
	return out
}

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
		for _, doc := range documents(data) {
			kind, name := scalarAt(doc, "kind"), scalarAt(mapAt(doc, "metadata"), "name")
			key := kind + "/" + name
			if _, dup := out[key]; kind != "" && name != "" && !dup {
				out[key] = Source{File: repoPath(f), Line: doc.Line, doc: doc}
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
