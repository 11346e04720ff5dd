package cli

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/syncd-dev/syncd/internal/bundle"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/verify"
)

// siteImages returns the distinct image references of the objects the
// site's products render to at the fleet repo fsys (the version each
// product's channel gives the site, as `syncd sync` plans it).
func siteImages(ctx context.Context, fsys fs.FS, site, revision string) ([]string, error) {
	plan, err := reconcile.PlanSite(ctx, fsys, site, revision)
	if err != nil {
		return nil, err
	}
	var objs []string
	var failed []string
	for _, p := range plan.Products {
		if p.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.Name, p.Err))
			continue
		}
		objs = append(objs, verify.Refs(p.Objects)...)
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("site %s: product(s) that cannot be rendered, so their images are unknown:\n  %s", site, strings.Join(failed, "\n  "))
	}
	return compactSorted(objs), nil
}

func compactSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// bundleImages copies the images of the site's products into the OCI
// layout under dir.
func (f *commonFlags) bundleImages(ctx context.Context, s *streams, fsys fs.FS, dir string) ([]bundle.Image, error) {
	refs, err := siteImages(ctx, fsys, f.site, "")
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	if len(refs) > 0 {
		return nil, withCode(ExitError, fmt.Errorf("not supported yet: carrying images in a bundle (site %s's products use %d: %s)", f.site, len(refs), strings.Join(refs, ", ")))
	}
	return nil, nil
}

// importImages pushes the bundle's images to registry.
func importImages(_ context.Context, _ *streams, _ *commonFlags, m *bundle.Manifest, _ string, _ string) error {
	if len(m.Images) > 0 {
		return withCode(ExitError, fmt.Errorf("not supported yet: loading a bundle's images (%d)", len(m.Images)))
	}
	return nil
}
