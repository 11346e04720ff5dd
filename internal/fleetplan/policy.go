package fleetplan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/policy"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/render"
)

// violationProblem is the problem of a rendered object that violates a
// block-severity policy: at the file and line of the field that decided the
// rule when the violation was located (v.Source, v.Field), else where the
// object is written (its release, else the site's Component), or at the
// release directory when it cannot be found there (a generated or renamed
// object); the message names the policy and where fleet.yaml declares it.
func violationProblem(v policy.Violation, req render.Request, policies []fleet.Policy, src *sources) *fleet.Error {
	where := "fleet.yaml"
	for i := range policies {
		if policies[i].Name == v.Policy && policies[i].Line() > 0 {
			where = fmt.Sprintf("fleet.yaml:%d", policies[i].Line())
		}
	}
	if file, line, ok := splitSource(v.Source); ok && v.Field != "" {
		return &fleet.Error{
			File: file, Line: line, Field: v.Field,
			Msg: fmt.Sprintf("blocked by policy %s (%s): %s: %s", v.Policy, where, v.Object, v.Message),
		}
	}
	kind, name := objectKindName(v.Object)
	file, line := src.find(kind, name, req.ReleaseDir, req.ComponentDir)
	if file == "" {
		file = req.ReleaseDir
	}
	return &fleet.Error{
		File: file, Line: line, Field: v.Object,
		Msg: fmt.Sprintf("blocked by policy %s (%s): %s", v.Policy, where, v.Message),
	}
}

// splitSource splits a violation's Source, FILE:LINE.
func splitSource(s string) (file string, line int, ok bool) {
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return "", 0, false
	}
	line, err := strconv.Atoi(s[i+1:])
	if err != nil || line <= 0 {
		return "", 0, false
	}
	return s[:i], line, true
}

// blockingViolations evaluates the fleet's policies over the objects of one
// render of product at site and returns the block-severity violations.
func blockingViolations(repo *fleet.Repo, site, product string, res render.Result) []policy.Violation {
	policies := repo.Fleet.Spec.Policies
	s := repo.Sites[site]
	if len(policies) == 0 || s == nil {
		return nil
	}
	vs := policy.Evaluate(policies, s, map[string][]*unstructured.Unstructured{product: res.Objects}).Blocking(product)
	reconcile.LocateViolations(vs, map[string]*reconcile.ProductPlan{product: {Objects: res.Objects, Sources: res.Sources}})
	return vs
}

// objectKindName splits a violation's object, Kind/namespace/name or
// Kind/name.
func objectKindName(object string) (kind, name string) {
	kind, rest, _ := strings.Cut(object, "/")
	return kind, rest[strings.LastIndex(rest, "/")+1:]
}

// sources finds where in the fleet repo a rendered object is written, by its
// kind and name, reading each directory once.
type sources struct {
	fsys fs.FS
	docs map[string][]sourceDoc // by directory
}

// sourceDoc is one YAML document of a kustomize directory.
type sourceDoc struct {
	kind, name, file string
	line             int
}

// find returns the file and line of the first document of kind and name
// under dirs (tried in order, empty ones skipped); "" when none has it.
func (s *sources) find(kind, name string, dirs ...string) (string, int) {
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		for _, d := range s.dir(dir) {
			if d.kind == kind && d.name == name {
				return d.file, d.line
			}
		}
	}
	return "", 0
}

// dir returns the documents of the YAML files under dir.
func (s *sources) dir(dir string) []sourceDoc {
	if docs, ok := s.docs[dir]; ok {
		return docs
	}
	if s.docs == nil {
		s.docs = map[string][]sourceDoc{}
	}
	var docs []sourceDoc
	_ = fs.WalkDir(s.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		if base := path.Base(p); base == "kustomization.yaml" || base == "kustomization.yml" {
			return nil
		}
		data, err := fs.ReadFile(s.fsys, p)
		if err != nil {
			return nil
		}
		docs = append(docs, yamlDocs(p, data)...)
		return nil
	})
	s.docs[dir] = docs
	return docs
}

// yamlDocs lists the documents of file that have a kind and a
// metadata.name; a file that is not YAML has none.
func yamlDocs(file string, data []byte) []sourceDoc {
	var out []sourceDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) || err != nil {
			return out
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0]
		kind := scalar(top, "kind")
		var name string
		if meta := value(top, "metadata"); meta != nil {
			name = scalar(meta, "name")
		}
		if kind != "" && name != "" {
			out = append(out, sourceDoc{kind: kind, name: name, file: file, line: top.Line})
		}
	}
}

// value returns the value of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalar returns the scalar value of key in mapping m, or "".
func scalar(m *yaml.Node, key string) string {
	if v := value(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}
