package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
)

// snapshot is a fleet repo revision ready to be read.
type snapshot struct {
	fsys     fs.FS
	revision string
	cleanup  func()
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
		return &snapshot{fsys: os.DirFS(f.repoDir), cleanup: func() {}}, nil
	case f.repo != "":
		return f.fetchSnapshot(ctx, s)
	}
	return nil, fmt.Errorf("one of --repo or --repo-dir (or SYNCD_REPO) is required")
}
