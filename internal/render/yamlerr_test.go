package render

import "testing"

// The line is the one an editor shows the mistake on; the YAML library's
// own message is one line above it for errors inside a block mapping.
func TestYAMLSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		msg        string
	}{
		{"ok", "a: 1\n---\nb: [1, 2]\n", 0, ""},
		{"flow sequence left open", "kind: [unclosed\n", 1, "did not find expected ',' or ']'"},
		{"key indented one space less", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n", 5, "did not find expected key"},
		{"mapping in a scalar", "a: 1\nb: 2\n  c: 3\nd: 4\n", 3, "mapping values are not allowed in this context"},
		{"tab", "a: 1\n\tb: 2\n", 2, "found a tab character that violates indentation"},
		{"second document", "a: 1\n---\nb: [1\n", 3, "did not find expected ',' or ']'"},
		{"unterminated quote", "a: 1\nb: \"x\nc: 3\n", 2, "found unexpected end of stream"},
		{"no final newline", "a: 1\n b: 2", 2, "mapping values are not allowed in this context"},
		{"duplicate key", "a: 1\nb:\n  c: 1\n  c: 2\n", 4, `mapping key "c" already defined at line 3`},
		{"flow closed later", "a: [1,\n  2]\nb: c: d\n", 3, "mapping values are not allowed in this context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := yamlSyntaxError("p/f.yaml", []byte(tt.data))
			if tt.line == 0 {
				if got != nil {
					t.Fatalf("got %v, want no error", got)
				}
				return
			}
			if got == nil || got.Line != tt.line || got.Msg != tt.msg || got.File != "p/f.yaml" {
				t.Fatalf("got %+v, want line %d, %q", got, tt.line, tt.msg)
			}
		})
	}
}
