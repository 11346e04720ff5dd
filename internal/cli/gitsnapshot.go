package cli

import (
	"context"
	"errors"
)

// fetchSnapshot fetches --repo; wired to gitsource.
func (f *commonFlags) fetchSnapshot(context.Context, *streams) (*snapshot, error) {
	return nil, errors.New("--repo: not wired yet")
}
