package gitsource

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// CommitObject returns commit sha (full hex) as stored in the local
// repository, with its signature, for callers that check who signed it
// (--verify-commits). The commit must have been fetched or committed by s.
func (s *Source) CommitObject(ctx context.Context, sha string) (*object.Commit, error) {
	var commit *object.Commit
	err := s.localCommit(ctx, sha, func(_ *filesystem.Storage, c *object.Commit) error {
		commit = c
		return nil
	})
	return commit, err
}

// localCommit finds commit sha (full hex) in the local repository and calls
// f with it and the repository's storage, holding s's lock until f returns.
// It fails when sha is not a full hash or the commit has not been fetched
// (or committed) by s.
func (s *Source) localCommit(ctx context.Context, sha string, f func(st *filesystem.Storage, c *object.Commit) error) error {
	h, err := parseSHA(sha)
	if err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return err
	}
	c, err := object.GetCommit(st, h)
	if err != nil {
		return fmt.Errorf("commit %s is not in the local repository (fetch it first): %w", sha, err)
	}
	return f(st, c)
}
