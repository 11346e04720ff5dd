package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// YAML tags of the scalars the walker accepts.
const (
	tagStr   = "!!str"
	tagInt   = "!!int"
	tagFloat = "!!float"
	tagBool  = "!!bool"
	tagNull  = "!!null"
	tagTime  = "!!timestamp"
)

// decode strictly decodes the document into out, a pointer to one of the
// fleet types. It first walks the YAML nodes along the Go type, so that an
// unknown or duplicate field, an alias, or a value of the wrong type is
// reported at its own line and field; only a document that passes the walk
// is converted to JSON and decoded with encoding/json, which then cannot
// fail for structural reasons. It reports whether decoding succeeded.
func (d *document) decode(out any) bool {
	if d.root == nil {
		return false
	}
	before := len(d.errs)
	d.walk(d.root, reflect.TypeOf(out).Elem(), nil)
	if len(d.errs) > before {
		return false
	}
	var generic any
	if err := d.root.Decode(&generic); err != nil {
		d.errorf(nil, "%v", err)
		return false
	}
	data, err := json.Marshal(generic)
	if err != nil {
		d.errorf(nil, "%v", err)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		d.jsonError(err)
		return false
	}
	return true
}

// jsonError records an encoding/json error at the field it names, if any.
func (d *document) jsonError(err error) {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		d.errorf(parsePath(typeErr.Field), "cannot use %s as %s", typeErr.Value, typeErr.Type)
		return
	}
	d.errorf(nil, "%v", err)
}

// walk checks node n against Go type t and records every mismatch.
func (d *document) walk(n *yaml.Node, t reflect.Type, p fieldPath) {
	if n.Kind == yaml.AliasNode {
		d.errorf(p, "YAML aliases are not supported in fleet files")
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull {
		return // an empty value leaves the field at its zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		d.walkDuration(n, p)
	case t == reflect.TypeFor[time.Time]():
		d.walkTimestamp(n, p)
	case t.Kind() == reflect.Struct:
		d.walkStruct(n, t, p)
	case t.Kind() == reflect.Map:
		d.walkMap(n, t, p)
	case t.Kind() == reflect.Slice:
		d.walkSlice(n, t, p)
	case t.Kind() == reflect.String:
		d.walkScalar(n, p, tagStr)
	case t.Kind() == reflect.Bool:
		d.walkScalar(n, p, tagBool)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		d.walkInt(n, p)
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		d.walkFloat(n, p)
	default:
		d.errorf(p, "internal error: cannot decode into %s", t)
	}
}

func (d *document) walkStruct(n *yaml.Node, t reflect.Type, p fieldPath) {
	if !d.expectKind(n, p, yaml.MappingNode) {
		return
	}
	fields := jsonFields(t)
	d.eachEntry(n, p, func(k string, v *yaml.Node) {
		ft, ok := fields[k]
		if !ok {
			d.errorf(p.child(k), "unknown field %q", k)
			return
		}
		d.walk(v, ft, p.child(k))
	})
}

func (d *document) walkMap(n *yaml.Node, t reflect.Type, p fieldPath) {
	if !d.expectKind(n, p, yaml.MappingNode) {
		return
	}
	d.eachEntry(n, p, func(k string, v *yaml.Node) {
		d.walk(v, t.Elem(), p.key(k))
	})
}

// eachEntry calls fn for every entry of mapping n, after checking that the
// key is a string and is not a duplicate.
func (d *document) eachEntry(n *yaml.Node, p fieldPath, fn func(k string, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != tagStr {
			msg := "keys must be strings"
			if k.ShortTag() == "!!merge" {
				msg = "YAML merge keys are not supported in fleet files"
			}
			d.errs = append(d.errs, &Error{File: d.file, Line: k.Line, Field: p.String(), Msg: msg})
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errs = append(d.errs, &Error{File: d.file, Line: k.Line, Field: p.child(k.Value).String(),
				Msg: "duplicate key, first set on line " + strconv.Itoa(first)})
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, v)
	}
}

func (d *document) walkSlice(n *yaml.Node, t reflect.Type, p fieldPath) {
	if !d.expectKind(n, p, yaml.SequenceNode) {
		return
	}
	for i, v := range n.Content {
		d.walk(v, t.Elem(), p.index(i))
	}
}

func (d *document) walkScalar(n *yaml.Node, p fieldPath, tag string) {
	if !d.expectKind(n, p, yaml.ScalarNode) {
		return
	}
	if got := n.ShortTag(); got != tag {
		d.errorf(p, "must be %s, got %s%s", tagName(tag), tagName(got), quoteHint(tag))
	}
}

func (d *document) walkInt(n *yaml.Node, p fieldPath) {
	d.walkScalar(n, p, tagInt)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tagInt {
		var v int64
		if err := n.Decode(&v); err != nil {
			d.errorf(p, "integer out of range")
		}
	}
}

func (d *document) walkFloat(n *yaml.Node, p fieldPath) {
	if !d.expectKind(n, p, yaml.ScalarNode) {
		return
	}
	tag := n.ShortTag()
	if tag != tagFloat && tag != tagInt {
		d.errorf(p, "must be a number, got %s", tagName(tag))
		return
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		d.errorf(p, "must be a finite number")
	}
}

func (d *document) walkDuration(n *yaml.Node, p fieldPath) {
	d.walkScalar(n, p, tagStr)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tagStr {
		return
	}
	if _, err := parseDuration(n.Value); err != nil {
		d.errorf(p, "%v", err)
	}
}

// walkTimestamp accepts an RFC 3339 time, quoted or not (YAML resolves an
// unquoted one to a timestamp).
func (d *document) walkTimestamp(n *yaml.Node, p fieldPath) {
	if !d.expectKind(n, p, yaml.ScalarNode) {
		return
	}
	if tag := n.ShortTag(); tag != tagStr && tag != tagTime {
		d.errorf(p, "must be a time such as 2027-01-04T08:00:00Z, got %s", tagName(tag))
		return
	}
	if _, err := parseTimestamp(n.Value); err != nil {
		d.errorf(p, "%v", err)
	}
}

// expectKind records a problem unless n is of kind want.
func (d *document) expectKind(n *yaml.Node, p fieldPath, want yaml.Kind) bool {
	if n.Kind == want {
		return true
	}
	d.errorf(p, "must be %s, got %s", kindName(want), nodeName(n))
	return false
}

// jsonFields returns the JSON field names of struct type t, with the fields
// of embedded structs without a JSON name promoted, as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case name == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
		case name == "":
			fields[f.Name] = f.Type
		default:
			fields[name] = f.Type
		}
	}
	return fields
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a scalar"
	}
}

func nodeName(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return tagName(n.ShortTag())
	}
	return kindName(n.Kind)
}

func tagName(tag string) string {
	switch tag {
	case tagStr:
		return "a string"
	case tagInt:
		return "an integer"
	case tagFloat:
		return "a number"
	case tagBool:
		return "a boolean"
	case tagNull:
		return "null"
	default:
		return strings.TrimPrefix(tag, "!!")
	}
}

func quoteHint(want string) string {
	if want == tagStr {
		return " (quote the value)"
	}
	return ""
}
