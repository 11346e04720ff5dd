package fleet

import (
	"os"
	"testing"
)

// exampleRepo is the example fleet repo shipped with syncd.
const exampleRepo = "../../examples/fleet-repo"

func loadExample(t testing.TB) *Repo {
	t.Helper()
	repo, err := Load(os.DirFS(exampleRepo))
	if err != nil {
		t.Fatalf("Load(%s):\n%v", exampleRepo, err)
	}
	return repo
}

func TestExampleRepoLoadsCleanly(t *testing.T) {
	repo := loadExample(t)
	if repo.Fleet == nil {
		t.Fatal("Fleet is nil")
	}
	if got := len(repo.Sites); got < 5 {
		t.Errorf("got %d sites, want at least 5", got)
	}
	if got := len(repo.Products); got < 4 {
		t.Errorf("got %d products, want at least 4", got)
	}
	for name := range repo.Sites {
		products, err := repo.ProductsFor(name)
		if err != nil {
			t.Errorf("ProductsFor(%s): %v", name, err)
		}
		if len(products) == 0 {
			t.Errorf("site %s is targeted by no product", name)
		}
		for _, p := range products {
			if _, err := repo.Resolve(name, p.Name); err != nil {
				t.Errorf("Resolve(%s, %s): %v", name, p.Name, err)
			}
		}
	}
}

func TestExampleRepoFeatures(t *testing.T) {
	repo := loadExample(t)
	if got := repo.Sites["edge-store-042"].Components["telemetry-agent"]; got != "sites/edge-store-042/products/telemetry-agent" {
		t.Errorf("edge-store-042 telemetry-agent component = %q", got)
	}
	res, err := repo.Resolve("aws-us-east-1-prod", "telemetry-agent")
	if err != nil || res.Channel != "dev" || res.Version.Original() != "1.8.2" {
		t.Errorf("Resolve(aws-us-east-1-prod, telemetry-agent) = %+v, %v; want 1.8.2 from dev, capped", res, err)
	}
	recalled := repo.Products["auth-service"].Release("5.2.0")
	if recalled == nil || !recalled.Spec.Recalled {
		t.Errorf("auth-service 5.2.0 = %+v, want a recalled release", recalled)
	}
	order, err := repo.DependencyOrder([]string{"ingest-pipeline", "auth-service"})
	if err != nil || order[0] != "auth-service" {
		t.Errorf("DependencyOrder = %v, %v; want auth-service first", order, err)
	}
	if got := repo.Fleet.PipelineFor("widget-operator").Product; got != "widget-operator" {
		t.Errorf("PipelineFor(widget-operator) = %q", got)
	}
}
