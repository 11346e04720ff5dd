package render

import (
	"fmt"
	"path"

	"github.com/syncd-dev/syncd/internal/yamlpos"
)

// SyntaxError is a YAML file that does not parse, named by its repo path and
// the line an editor shows the problem on.
type SyntaxError struct {
	// File is the repo-relative path.
	File string
	// Line is 1-based.
	Line int
	// Msg is the parser's message, without its own line number.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// firstSyntaxError returns the first of files (in-memory paths) with a YAML
// extension or a kustomization name that does not parse, or nil.
func (r *Repo) firstSyntaxError(files []string) error {
	for _, f := range files {
		switch path.Ext(f) {
		case ".yaml", ".yml":
		default:
			if path.Base(f) != "Kustomization" {
				continue
			}
		}
		data, err := r.fs.ReadFile(f)
		if err != nil {
			continue
		}
		if se := yamlSyntaxError(repoPath(f), data); se != nil {
			return se
		}
	}
	return nil
}

// yamlSyntaxError describes the first problem of data (a syntax error or a
// duplicate key) at the line an editor shows it on, or returns nil.
func yamlSyntaxError(name string, data []byte) *SyntaxError {
	p := yamlpos.Check(data)
	if p == nil {
		return nil
	}
	return &SyntaxError{File: name, Line: p.Line, Msg: p.Msg}
}
