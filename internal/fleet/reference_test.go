package fleet

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// referenceDoc is the fleet repo reference that TestReferenceDocumentsEveryField holds to the types.
const referenceDoc = "../../docs/fleet-repo.md"

// docField is one field of a fleet file as the reference names it: a
// dotted path, with [] for list items and <key> for map keys.
type docField struct {
	path, typ string
}

// fieldsOf lists every field of a fleet file type, objects and leaves, by
// their JSON names, skipping what Load sets (json:"-").
func fieldsOf(t reflect.Type, prefix string) []docField {
	var out []docField
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && f.Anonymous {
			out = append(out, fieldsOf(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, fieldAndChildren(f.Type, join(prefix, name))...)
	}
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// fieldAndChildren lists the field at path of type t and what is below it.
func fieldAndChildren(t reflect.Type, path string) []docField {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := []docField{{path: path, typ: typeName(t)}}
	switch {
	case leaf(t):
	case t.Kind() == reflect.Struct:
		out = append(out, fieldsOf(t, path)...)
	case t.Kind() == reflect.Slice && !leaf(t.Elem()):
		out = append(out, fieldsOf(t.Elem(), path+"[]")...)
	case t.Kind() == reflect.Map && !leaf(t.Elem()):
		out = append(out, fieldsOf(t.Elem(), path+".<"+mapKey(path)+">")...)
	}
	return out
}

// mapKey names the key of a map field in the reference: spec.products.<product>.
func mapKey(path string) string {
	parts := strings.Split(path, ".")
	return strings.TrimSuffix(parts[len(parts)-1], "s")
}

func leaf(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() || t == reflect.TypeFor[Duration]() || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Slice, reflect.Map:
		return leaf(t.Elem())
	}
	return true
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "timestamp"
	case t == reflect.TypeFor[Duration]():
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	}
	return "object"
}

// referenceKinds are the fleet file kinds and their types, as the
// reference's sections name them ("## Fleet", "## Site", ...).
var referenceKinds = []struct {
	kind string
	typ  reflect.Type
}{
	{KindFleet, reflect.TypeFor[Fleet]()},
	{KindSite, reflect.TypeFor[Site]()},
	{KindProduct, reflect.TypeFor[Product]()},
	{KindRelease, reflect.TypeFor[Release]()},
	{KindChannels, reflect.TypeFor[Channels]()},
}

// commonSection documents the fields every kind has (TypeMeta, ObjectMeta).
const commonSection = "Common fields"

var entryRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// sections splits the reference into its "## " sections and lists the
// field paths each documents in a table row starting with | `path` |.
func sections(doc string) map[string][]string {
	out := map[string][]string{}
	current := ""
	for _, line := range strings.Split(doc, "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			current, _, _ = strings.Cut(title, " ")
			if strings.HasPrefix(title, commonSection) {
				current = commonSection
			}
			continue
		}
		if m := entryRow.FindStringSubmatch(line); m != nil && current != "" {
			out[current] = append(out[current], m[1])
		}
	}
	return out
}

// TestReferenceDocumentsEveryField holds docs/fleet-repo.md to the fleet
// types: every field of every kind has a row (type, default, meaning,
// example), and no row names a field that does not exist.
func TestReferenceDocumentsEveryField(t *testing.T) {
	data, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := sections(string(data))
	common := fieldsOf(reflect.TypeFor[struct {
		TypeMeta   `json:",inline"`
		ObjectMeta `json:"metadata"`
	}](), "")
	check := func(section string, fields []docField) {
		t.Helper()
		want := map[string]bool{}
		for _, f := range fields {
			want[f.path] = true
			if !slices.Contains(documented[section], f.path) {
				t.Errorf("%s: section %q has no entry for field %s (%s); add a row to its table:\n"+
					"| `%s` | %s | <default> | <what it does> | <example> |", referenceDoc, section, f.path, f.typ, f.path, f.typ)
			}
		}
		for _, p := range documented[section] {
			if !want[p] {
				t.Errorf("%s: section %q documents %s, which is not a field of the type; remove or rename the row", referenceDoc, section, p)
			}
		}
	}
	check(commonSection, common)
	isCommon := map[string]bool{}
	for _, f := range common {
		isCommon[f.path] = true
	}
	for _, k := range referenceKinds {
		var fields []docField
		for _, f := range fieldsOf(k.typ, "") {
			if !isCommon[f.path] {
				fields = append(fields, f)
			}
		}
		if _, ok := documented[k.kind]; !ok {
			t.Errorf("%s: no section \"## %s\"", referenceDoc, k.kind)
		}
		check(k.kind, fields)
	}
}

// TestReferenceFieldPaths pins how the walk names fields, so that the
// failure messages above name them the way the reference does.
func TestReferenceFieldPaths(t *testing.T) {
	var got []string
	for _, f := range fieldsOf(reflect.TypeFor[Site](), "") {
		got = append(got, fmt.Sprintf("%s (%s)", f.path, f.typ))
	}
	for _, want := range []string{
		"spec.conflictRules[].path (string)",
		"spec.maintenanceWindows[].duration (duration)",
		"spec.products.<product>.maxVersion (string)",
		"metadata.labels (map of string)",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("field %q not found in %v", want, got)
		}
	}
}
