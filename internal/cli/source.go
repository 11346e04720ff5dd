package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/syncd-dev/syncd/internal/reconcile"
)

// snapshot is a fleet repo revision ready to be read.
type snapshot struct {
	fsys     fs.FS
	revision string
}

// planSite reads the fleet repo (--repo-dir or --repo) and plans --site.
func (f *commonFlags) planSite(ctx context.Context, s *streams) (*reconcile.Plan, error) {
	snap, err := f.openSnapshot(ctx, s)
	if err != nil {
		return nil, err
	}
	return reconcile.PlanSite(ctx, snap.fsys, f.site, snap.revision)
}

// openSnapshot reads the fleet repo from --repo-dir, or fetches --repo.
func (f *commonFlags) openSnapshot(ctx context.Context, s *streams) (*snapshot, error) {
	switch {
	case f.repoDir != "" && f.repo != "":
		return nil, fmt.Errorf("--repo and --repo-dir are exclusive")
	case f.repoDir != "":
		if _, err := os.Stat(f.repoDir); err != nil {
			return nil, fmt.Errorf("--repo-dir: %w", err)
		}
		return &snapshot{fsys: os.DirFS(f.repoDir)}, nil
	case f.repo != "":
		return f.fetchSnapshot(ctx, s)
	}
	return nil, fmt.Errorf("one of --repo or --repo-dir (or SYNCD_REPO) is required")
}
