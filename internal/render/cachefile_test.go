package render

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

// A saved cache serves a later process: the same requests render nothing,
// and give the same objects with sources that still place fields by line.
func TestCacheSavedAndLoaded(t *testing.T) {
	ctx := context.Background()
	req := Request{Site: "a", Product: "web", Version: "1.0.0", ReleaseDir: "products/web/releases/1.0.0", ComponentDir: "sites/edge-1/products/web", Namespace: "web"}
	render := func(c *Cache) Result {
		t.Helper()
		repo, err := LoadRepo(baseRepo())
		if err != nil {
			t.Fatal(err)
		}
		res := c.RenderAll(ctx, repo, []Request{req})[0]
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res
	}
	first := NewCache()
	want := render(first)
	var buf bytes.Buffer
	if err := first.Save(&buf, "v1"); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()

	tests := []struct {
		name    string
		version string
		builds  int
	}{
		{"same version: nothing rendered again", "v1", 0},
		{"another syncd version: rendered again", "v2", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadCache(strings.NewReader(saved), tt.version)
			if err != nil {
				t.Fatal(err)
			}
			got := render(c)
			if c.Builds() != tt.builds {
				t.Fatalf("builds = %d, want %d", c.Builds(), tt.builds)
			}
			if len(got.Objects) != len(want.Objects) {
				t.Fatalf("%d objects, want %d", len(got.Objects), len(want.Objects))
			}
			for i := range want.Objects {
				if !reflect.DeepEqual(got.Objects[i].Object, want.Objects[i].Object) {
					t.Fatalf("object %d = %v\nwant %v", i, got.Objects[i].Object, want.Objects[i].Object)
				}
				src, ok := got.Sources.Of(got.Objects[i])
				wsrc, _ := want.Sources.Of(want.Objects[i])
				if !ok || src.File != wsrc.File || src.FieldLine("metadata.name") != wsrc.FieldLine("metadata.name") {
					t.Fatalf("source of %s = %+v (metadata.name at %d), want %+v", got.Objects[i].GetName(), src, src.FieldLine("metadata.name"), wsrc)
				}
			}
		})
	}
	if _, err := LoadCache(strings.NewReader("{not json"), "v1"); err == nil {
		t.Fatal("a cache file that does not decode: no error")
	}
}
