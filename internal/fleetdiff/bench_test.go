package fleetdiff

import (
	"context"
	"io"
	"testing"
	"testing/fstest"

	"github.com/syncd-dev/syncd/internal/fleetplan"
	"github.com/syncd-dev/syncd/internal/render"
)

// BenchmarkFleetDiff200Sites is `syncd fleet diff` of a one-product change
// (web moves to 1.1.0 on prod, reaching 100 sites) on a generated fleet of
// 200 sites: both revisions planned at every site, compared with field
// diffs, and printed as Markdown. Run by `make bench`.
func BenchmarkFleetDiff200Sites(b *testing.B) {
	base := genFleet(200)
	head := with(base, map[string]*fstest.MapFile{
		"channels/web.yaml": file("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: web}\nspec: {dev: 1.1.0, prod: 1.1.0}\n"),
	})
	ctx := context.Background()
	var builds int
	for b.Loop() {
		cache := render.NewCache()
		bp, err := fleetplan.Plan(ctx, base, fleetplan.Options{Revision: "base", Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
		hp, err := fleetplan.Plan(ctx, head, fleetplan.Options{Revision: "head", Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
		r, err := Compare(bp, hp, Options{Diffs: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Sites) != 100 {
			b.Fatalf("%d sites changed, want 100", len(r.Sites))
		}
		if err := Write(io.Discard, r, FormatMarkdown); err != nil {
			b.Fatal(err)
		}
		builds = cache.Builds()
	}
	b.ReportMetric(float64(builds), "renders/op")
}
