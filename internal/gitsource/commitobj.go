package gitsource

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitObject returns commit sha (full hex) as stored in the local
// repository, with its signature, for callers that check who signed it
// (--verify-commits). The commit must have been fetched or committed by s.
func (s *Source) CommitObject(ctx context.Context, sha string) (*object.Commit, error) {
	h, err := parseSHA(sha)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return nil, err
	}
	c, err := object.GetCommit(st, h)
	if err != nil {
		return nil, fmt.Errorf("commit %s is not in the local repository (fetch it first): %w", sha, err)
	}
	return c, nil
}
