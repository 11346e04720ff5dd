package fleet

import "testing"

func TestPipelineFor(t *testing.T) {
	f := &Fleet{Spec: FleetSpec{Pipelines: []Pipeline{
		{Product: "*"},
		{Product: "auth-*"},
		{Product: "auth-service"},
		{Product: "*-operator"},
		{Product: "widget-*"},
	}}}
	tests := []struct{ product, want string }{
		{"auth-service", "auth-service"},
		{"auth-proxy", "auth-*"},
		{"ingest", "*"},
		{"widget-operator", "*-operator"}, // more literal characters than widget-*, 9 > 7
		{"widget-ui", "widget-*"},
	}
	for _, tt := range tests {
		if got := f.PipelineFor(tt.product); got == nil || got.Product != tt.want {
			t.Errorf("PipelineFor(%s) = %+v, want %s", tt.product, got, tt.want)
		}
	}
	if got := (&Fleet{}).PipelineFor("auth"); got != nil {
		t.Errorf("PipelineFor without pipelines = %+v, want nil", got)
	}
}

func TestConflictStrategy(t *testing.T) {
	repo := newRepo()
	repo.Fleet = &Fleet{Spec: FleetSpec{ConflictStrategy: ServerWins}}
	repo.Sites["manual-site"] = &Site{Spec: SiteSpec{ConflictStrategy: Manual}}
	repo.Sites["plain-site"] = &Site{}
	repo.Products["git-product"] = &Product{Spec: ProductSpec{ConflictStrategy: GitWins}}
	repo.Products["plain-product"] = &Product{}
	tests := []struct {
		site, product string
		want          ConflictStrategy
	}{
		{"manual-site", "git-product", GitWins},
		{"manual-site", "plain-product", Manual},
		{"plain-site", "plain-product", ServerWins},
	}
	for _, tt := range tests {
		if got := repo.ConflictStrategy(tt.site, tt.product); got != tt.want {
			t.Errorf("ConflictStrategy(%s, %s) = %s, want %s", tt.site, tt.product, got, tt.want)
		}
	}
	if got := newRepo().ConflictStrategy("x", "y"); got != DefaultConflictStrategy {
		t.Errorf("ConflictStrategy with nothing set = %s, want %s", got, DefaultConflictStrategy)
	}
}
