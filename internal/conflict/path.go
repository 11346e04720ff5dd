package conflict

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// step is one resolved element of a field path: a map key, or a list index.
type step struct {
	key   string // map key, when index < 0
	index int    // list index, or -1
}

// Field is a field path the API server reported (".spec.replicas",
// `.spec.template.spec.containers[name="app"].image`) resolved against an
// object, so it can be read, removed and named as a JSON pointer.
type Field struct {
	// Path is the API server's form.
	Path  string
	steps []step
}

// Pointer is the field as a JSON pointer (RFC 6901), list elements by index:
// /spec/template/spec/containers/0/image.
func (f Field) Pointer() string {
	var b strings.Builder
	for _, s := range f.steps {
		b.WriteByte('/')
		if s.index >= 0 {
			b.WriteString(strconv.Itoa(s.index))
			continue
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s.key))
	}
	return b.String()
}

// ResolveField resolves an API server field path against obj. Map keys may
// contain dots (label keys such as app.kubernetes.io/name), so each key is
// matched against the keys obj really has, longest first.
func ResolveField(obj map[string]any, path string) (Field, error) {
	f := Field{Path: path}
	var cur any = obj
	rest := path
	for rest != "" {
		switch rest[0] {
		case '.':
			m, ok := cur.(map[string]any)
			if !ok {
				return f, fmt.Errorf("field path %s: %q is not under an object", path, rest)
			}
			key, ok := longestKey(m, rest[1:])
			if !ok {
				return f, fmt.Errorf("field path %s: no field matches %q", path, rest)
			}
			f.steps = append(f.steps, step{key: key, index: -1})
			cur, rest = m[key], rest[1+len(key):]
		case '[':
			end := closingBracket(rest)
			if end < 0 {
				return f, fmt.Errorf("field path %s: unclosed [ in %q", path, rest)
			}
			list, ok := cur.([]any)
			if !ok {
				return f, fmt.Errorf("field path %s: %q is not under a list", path, rest)
			}
			i, err := matchElement(list, rest[1:end])
			if err != nil {
				return f, fmt.Errorf("field path %s: %w", path, err)
			}
			f.steps = append(f.steps, step{index: i})
			cur, rest = list[i], rest[end+1:]
		default:
			return f, fmt.Errorf("field path %s: unexpected %q", path, rest)
		}
	}
	return f, nil
}

// longestKey finds the longest key of m that s starts with, followed by the
// end of s or the start of the next element.
func longestKey(m map[string]any, s string) (string, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if strings.HasPrefix(s, k) && (len(s) == len(k) || s[len(k)] == '.' || s[len(k)] == '[') {
			return k, true
		}
	}
	return "", false
}

// closingBracket returns the index of the ] closing s[0] == '[', skipping
// brackets inside JSON strings.
func closingBracket(s string) int {
	inString, escaped := false, false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ']':
			return i
		}
	}
	return -1
}

// matchElement finds the list element selected by the inside of [...]:
// an index "2", a set value "=\"x\"", or keys `name="app",port=80`.
func matchElement(list []any, sel string) (int, error) {
	if strings.HasPrefix(sel, "=") {
		var v any
		if err := json.Unmarshal([]byte(sel[1:]), &v); err != nil {
			return 0, fmt.Errorf("set element [%s]: %w", sel, err)
		}
		for i, e := range list {
			if jsonEqual(e, v) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("no list element equals %s", sel[1:])
	}
	if i, err := strconv.Atoi(sel); err == nil {
		if i < 0 || i >= len(list) {
			return 0, fmt.Errorf("list index %d out of range", i)
		}
		return i, nil
	}
	keys, err := parseKeys(sel)
	if err != nil {
		return 0, err
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		match := true
		for k, v := range keys {
			if !jsonEqual(m[k], v) {
				match = false
				break
			}
		}
		if match {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no list element has [%s]", sel)
}

// parseKeys reads `name="app",port=80` into a map of JSON values.
func parseKeys(sel string) (map[string]any, error) {
	keys := map[string]any{}
	dec := sel
	for dec != "" {
		name, rest, ok := strings.Cut(dec, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("list key [%s]: want name=value", sel)
		}
		d := json.NewDecoder(strings.NewReader(rest))
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("list key [%s]: %w", sel, err)
		}
		keys[name] = v
		rest = rest[d.InputOffset():]
		if rest != "" && rest[0] != ',' {
			return nil, fmt.Errorf("list key [%s]: want , between keys", sel)
		}
		dec = strings.TrimPrefix(rest, ",")
	}
	return keys, nil
}

// jsonEqual compares two decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	na, aNum := number(a)
	nb, bNum := number(b)
	if aNum || bNum {
		return aNum && bNum && na == nb
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Get returns the value at f in obj, following f's steps by key and index.
func (f Field) Get(obj map[string]any) (any, bool) {
	var cur any = obj
	for _, s := range f.steps {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s.key]
			if !ok || s.index >= 0 {
				return nil, false
			}
			cur = v
		case []any:
			if s.index < 0 || s.index >= len(c) {
				return nil, false
			}
			cur = c[s.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Remove deletes the value at f from obj (a list element is removed from its
// list) and reports whether it was there.
func (f Field) Remove(obj map[string]any) bool {
	if len(f.steps) == 0 {
		return false
	}
	parent := Field{steps: f.steps[:len(f.steps)-1]}
	p, ok := parent.Get(obj)
	if !ok {
		return false
	}
	last := f.steps[len(f.steps)-1]
	switch c := p.(type) {
	case map[string]any:
		if _, ok := c[last.key]; !ok || last.index >= 0 {
			return false
		}
		delete(c, last.key)
		return true
	case []any:
		if last.index < 0 || last.index >= len(c) {
			return false
		}
		grand := Field{steps: parent.steps}
		return grand.set(obj, append(c[:last.index:last.index], c[last.index+1:]...))
	}
	return false
}

// set replaces the value at f (which must exist).
func (f Field) set(obj map[string]any, v any) bool {
	if len(f.steps) == 0 {
		return false
	}
	p, ok := Field{steps: f.steps[:len(f.steps)-1]}.Get(obj)
	if !ok {
		return false
	}
	last := f.steps[len(f.steps)-1]
	switch c := p.(type) {
	case map[string]any:
		c[last.key] = v
		return true
	case []any:
		c[last.index] = v
		return true
	}
	return false
}
