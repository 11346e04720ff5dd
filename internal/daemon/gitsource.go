package daemon

import (
	"context"
	"io/fs"

	"github.com/syncd-dev/syncd/internal/gitsource"
)

// GitSource is the fleet repo over Git as the daemon reads it.
type GitSource struct {
	// Source fetches the tracked branch and reads its commits.
	Source *gitsource.Source
}

// Fetch implements Source.
func (g GitSource) Fetch(ctx context.Context) (string, bool, error) {
	rev, changed, err := g.Source.Fetch(ctx)
	return rev.SHA, changed, err
}

// Open implements Source.
func (g GitSource) Open(ctx context.Context, sha string) (fs.FS, error) {
	return g.Source.Snapshot(ctx, sha)
}

// FileHistory implements reconcile.History.
func (g GitSource) FileHistory(ctx context.Context, sha, name string, max int) ([]gitsource.FileRevision, error) {
	return g.Source.FileHistory(ctx, sha, name, max)
}
