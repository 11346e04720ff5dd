package gitsource

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Local is a Git checkout on this machine, read without the network: the
// fleet repo is the directory it was opened at, which may be the top of the
// checkout or a directory inside it.
type Local struct {
	st     *filesystem.Storage
	repo   *git.Repository
	prefix string // the fleet repo's directory inside the checkout, or ""
}

// OpenLocal opens the Git checkout that holds dir.
func OpenLocal(dir string) (*Local, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	repo, err := git.PlainOpenWithOptions(absDir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("%s is not inside a Git checkout: %w", dir, err)
	}
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported Git storage", dir)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	top, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, err
	}
	here, err := filepath.EvalSymlinks(absDir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(top, here)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("%s is not inside the checkout at %s", dir, top)
	}
	if rel == "." {
		rel = ""
	}
	return &Local{st: st, repo: repo, prefix: filepath.ToSlash(rel)}, nil
}

// Snapshot returns the fleet repo as it is at rev: anything `git rev-parse`
// understands that go-git does too (a branch, origin/main, a tag, HEAD,
// HEAD~1, a full or abbreviated commit hash).
func (l *Local) Snapshot(_ context.Context, rev string) (*Snapshot, error) {
	h, err := l.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	c, err := object.GetCommit(l.st, *h)
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	root := c.TreeHash
	if l.prefix != "" {
		tree, err := c.Tree()
		if err != nil {
			return nil, fmt.Errorf("revision %q: %w", rev, err)
		}
		sub, err := tree.Tree(l.prefix)
		if err != nil {
			return nil, fmt.Errorf("revision %q has no directory %s: %w", rev, l.prefix, err)
		}
		root = sub.Hash
	}
	sn := newSnapshot(nil, c, l.st)
	sn.root = root
	return sn, nil
}

// FetchRevisions fetches the tracked branch and every rev that names a
// branch of the server, and returns a Snapshot of each rev: a branch (also
// written origin/<branch>), HEAD (the tracked branch) or the full hash of a
// commit they reach.
func (s *Source) FetchRevisions(ctx context.Context, revs ...string) ([]*Snapshot, error) {
	branchOf := func(rev string) string {
		if rev == "HEAD" {
			return s.branch
		}
		return strings.TrimPrefix(rev, "origin/")
	}
	branches := []string{s.branch}
	for _, rev := range revs {
		if b := branchOf(rev); validBranch(b) == nil && b != s.branch {
			branches = append(branches, b)
		}
	}
	fctx, cancel := s.withTimeout(ctx)
	defer cancel()
	unlock, err := s.lock(fctx)
	if err != nil {
		return nil, err
	}
	heads, err := s.sync(fctx, branches...)
	unlock()
	if err != nil {
		return nil, err
	}
	snaps := make([]*Snapshot, len(revs))
	for i, rev := range revs {
		sha := rev
		if h, ok := heads[branchOf(rev)]; ok {
			sha = h.String()
		} else if len(rev) != 40 || !plumbing.IsHash(rev) {
			return nil, fmt.Errorf("revision %q is neither a branch of %s nor a full commit hash", rev, s.ep)
		}
		if snaps[i], err = s.Snapshot(ctx, sha); err != nil {
			return nil, fmt.Errorf("revision %q: %w", rev, err)
		}
	}
	return snaps, nil
}
