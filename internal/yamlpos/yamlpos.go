// Package yamlpos finds where a YAML file is broken: the line an editor
// shows the mistake on, which the YAML library's own message often misses by
// one, and duplicate keys, which the library's node parser accepts.
package yamlpos

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxLinesToLocate bounds the files whose broken line is located by
// re-parsing their prefixes (quadratic in the worst case); longer files get
// the YAML library's own line.
const maxLinesToLocate = 2000

// Problem is why a YAML file does not parse, at a 1-based line.
type Problem struct {
	Line int
	// Msg is the parser's message, without its own line number.
	Msg string
}

var (
	libLine = regexp.MustCompile(`^yaml: line (\d+): `)
	// typeLine is one line of a yaml.TypeError ("line 7: mapping key ...").
	typeLine = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// Check parses every document of data and describes the first problem: a
// syntax error, or a key repeated in one mapping. It returns nil when data
// is well-formed YAML.
//
// The YAML library reports the line where the enclosing construct started
// (0-based) for many parser errors, one line above the mistake, so the line
// is located again: it is the first line from which every longer prefix of
// the file fails to parse (a prefix that only cuts a construct short parses
// again once the construct is complete).
func Check(data []byte) *Problem {
	err := parseAll(data)
	if err == nil {
		return duplicateKey(data)
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := libLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = err.Error()[len(m[0]):]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) <= maxLinesToLocate {
		line = len(lines)
		for k := len(lines) - 1; k >= 1; k-- {
			if parseAll(bytes.Join(lines[:k], nil)) == nil {
				break
			}
			line = k
		}
	}
	return &Problem{Line: max(line, 1), Msg: msg}
}

// duplicateKey decodes every document of well-formed data, which reports a
// key defined twice in one mapping, and returns the first such problem.
func duplicateKey(data []byte) *Problem {
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := d.Decode(&v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// Well-formed YAML that does not decode into any: nothing to add.
			return nil
		}
		for _, e := range te.Errors {
			if m := typeLine.FindStringSubmatch(e); m != nil && strings.Contains(m[2], "already defined") {
				line, _ := strconv.Atoi(m[1])
				return &Problem{Line: line, Msg: m[2]}
			}
		}
	}
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
