package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/status"
)

// snapshot is a fleet repo revision ready to be read.
type snapshot struct {
	fsys     fs.FS
	revision string
	// hist reads earlier revisions; nil for --repo-dir.
	hist reconcile.History
	// src is the fleet repo fetched (--repo); nil for --repo-dir.
	src *gitsource.Source
	// commits is what --verify-commits decided; nil without it.
	commits *status.Commits
}

// planSite reads the fleet repo (--repo-dir or --repo) and plans --site.
func (f *commonFlags) planSite(ctx context.Context, s *streams) (*reconcile.Plan, error) {
	snap, err := f.openSnapshot(ctx, s)
	if err != nil {
		return nil, err
	}
	return reconcile.PlanSite(ctx, snap.fsys, f.site, snap.revision)
}

// gatedPlan reads the fleet repo and plans --site with change control
// (SPEC §2.1): what r holds back is planned as it was applied last.
func (f *commonFlags) gatedPlan(ctx context.Context, s *streams, r *reconcile.Reconciler) (*reconcile.Plan, error) {
	snap, err := f.openSnapshot(ctx, s)
	if err != nil {
		return nil, err
	}
	return r.Plan(ctx, snap.fsys, snap.revision, snap.hist)
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
