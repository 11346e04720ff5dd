package reconcile

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestExampleSitesRenderGolden renders every site of examples/fleet-repo and
// compares with testdata/golden/<site>.yaml (go test -update rewrites them).
func TestExampleSitesRenderGolden(t *testing.T) {
	repo := filepath.Join("..", "..", "examples", "fleet-repo")
	sites, err := os.ReadDir(filepath.Join(repo, "sites"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) < 5 {
		t.Fatalf("example fleet has %d sites, want at least 5", len(sites))
	}
	for _, s := range sites {
		t.Run(s.Name(), func(t *testing.T) {
			plan, err := PlanSite(context.Background(), os.DirFS(repo), s.Name(), "")
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, pp := range plan.Products {
				b.WriteString("# product " + pp.Name + " " + pp.Version)
				switch {
				case pp.Err != nil:
					t.Errorf("product %s: %v", pp.Name, pp.Err)
				case pp.NotDeployed != "":
					b.WriteString(" not deployed: " + pp.NotDeployed)
				case pp.Held != "":
					b.WriteString(" held back: " + pp.Held)
				}
				b.WriteString("\n")
				for _, o := range pp.Objects {
					data, err := yaml.Marshal(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					b.WriteString("---\n" + string(data))
				}
			}
			if !strings.Contains(b.String(), "kind:") {
				t.Errorf("site %s renders no objects", s.Name())
			}
			golden := filepath.Join("testdata", "golden", s.Name()+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./internal/reconcile -run Golden -update` to create it)", err)
			}
			if string(want) != b.String() {
				t.Errorf("render of %s differs from %s; rerun with -update if intended", s.Name(), golden)
			}
		})
	}
}
