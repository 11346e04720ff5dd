package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxLinesToLocate bounds the files whose broken line is located by
// re-parsing their prefixes (quadratic in the worst case); longer files get
// the YAML library's own line.
const maxLinesToLocate = 2000

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

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlSyntaxError parses every document of data and describes the first
// syntax error, or returns nil. The YAML library reports the line where the
// enclosing construct started (0-based) for many parser errors, one line
// above the mistake, so the line is located again: it is the first line from
// which every longer prefix of the file fails to parse (a prefix that only
// cuts a construct short parses again once the construct is complete).
func yamlSyntaxError(name string, data []byte) *SyntaxError {
	err := parseAll(data)
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	libLine := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		libLine, _ = strconv.Atoi(m[1])
		msg = err.Error()[len(m[0]):]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	line := libLine
	if len(lines) <= maxLinesToLocate {
		line = len(lines)
		for k := len(lines) - 1; k >= 1; k-- {
			if parseAll(bytes.Join(lines[:k], nil)) == nil {
				break
			}
			line = k
		}
	}
	if line < 1 {
		line = 1
	}
	return &SyntaxError{File: name, Line: line, Msg: msg}
}

// parseAll parses every YAML document of data into nodes.
func parseAll(data []byte) error {
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := d.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
