package fleet

import (
	"strconv"
	"strings"
)

// pathElem is one step of a fieldPath: a struct field, a map key or a list index.
type pathElem struct {
	name  string // field name or map key
	index int    // list index, when isIndex
	kind  elemKind
}

type elemKind int

const (
	fieldElem elemKind = iota
	keyElem
	indexElem
)

// fieldPath is the path of a field in a document, printed the way Kubernetes
// prints field paths: spec.conflictRules[0].strategy, spec.products[auth].channel.
type fieldPath []pathElem

// child returns the path of the struct field name below p.
func (p fieldPath) child(name string) fieldPath {
	return append(p[:len(p):len(p)], pathElem{name: name, kind: fieldElem})
}

// key returns the path of the map entry k below p.
func (p fieldPath) key(k string) fieldPath {
	return append(p[:len(p):len(p)], pathElem{name: k, kind: keyElem})
}

// index returns the path of the list element i below p.
func (p fieldPath) index(i int) fieldPath {
	return append(p[:len(p):len(p)], pathElem{index: i, kind: indexElem})
}

// String formats the path; the root path is empty.
func (p fieldPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e.kind {
		case fieldElem:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.name)
		case keyElem:
			b.WriteByte('[')
			b.WriteString(e.name)
			b.WriteByte(']')
		case indexElem:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// parsePath turns a dotted JSON field path, as encoding/json reports it in
// an UnmarshalTypeError, into a fieldPath of struct fields.
func parsePath(s string) fieldPath {
	var p fieldPath
	for name := range strings.SplitSeq(s, ".") {
		if name != "" {
			p = p.child(name)
		}
	}
	return p
}
