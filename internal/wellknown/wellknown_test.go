package wellknown

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The names syncd writes into clusters are spelled out here and nowhere
// else in the non-test code: a second spelling drifts apart unnoticed.
func TestNamesAreDefinedOnce(t *testing.T) {
	spelled := regexp.MustCompile(`"syncd\.dev/(site|product|version|prune)"|` +
		`(FieldOwner\(|FieldManager\s*[=:]\s*|Field:\s*)"syncd"`)
	var found []string
	for _, p := range goFiles(t, false) {
		if filepath.Base(p) == "wellknown.go" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := spelled.FindString(line); m != "" {
				found = append(found, p+":"+strconv.Itoa(i+1)+": "+m)
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("names spelled out outside internal/wellknown (use its constants):\n%s", strings.Join(found, "\n"))
	}
}

// goFiles returns the module's Go files (tests included when tests is set).
func goFiles(t *testing.T, tests bool) []string {
	t.Helper()
	root := filepath.Join("..", "..")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == "bin" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && (tests || !strings.HasSuffix(p, "_test.go")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// No code declares a name that shadows the predeclared any (issue 13, item
// 9): a variable called any turns a later `[]any` into a compile error far
// from its cause, and reads as the type.
func TestNothingShadowsAny(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	for _, p := range goFiles(t, true) {
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		declared := func(id *ast.Ident) {
			if id != nil && id.Name == "any" {
				found = append(found, fset.Position(id.Pos()).String())
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE {
					for _, e := range n.Lhs {
						if id, ok := e.(*ast.Ident); ok {
							declared(id)
						}
					}
				}
			case *ast.ValueSpec:
				for _, id := range n.Names {
					declared(id)
				}
			case *ast.TypeSpec:
				declared(n.Name)
			case *ast.FuncDecl:
				if n.Recv == nil {
					declared(n.Name)
				}
			case *ast.Field:
				for _, id := range n.Names {
					declared(id)
				}
			case *ast.RangeStmt:
				if n.Tok == token.DEFINE {
					for _, e := range []ast.Expr{n.Key, n.Value} {
						if id, ok := e.(*ast.Ident); ok {
							declared(id)
						}
					}
				}
			}
			return true
		})
	}
	if len(found) > 0 {
		t.Errorf("declarations shadowing the predeclared any:\n%s", strings.Join(found, "\n"))
	}
}
