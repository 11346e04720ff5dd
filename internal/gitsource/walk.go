package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// WalkCommit is one commit of a history walk (Source.Walk, Local.Walk).
type WalkCommit struct {
	// SHA is the commit's hash.
	SHA string
	// Parents are its parents' hashes, the first parent first.
	Parents []string
	// Time is its committer time.
	Time time.Time
	// Message is its full message.
	Message string
	// Files is the fleet repo's tree at the commit, nil when the commit has
	// no such tree (a Local checkout whose fleet directory did not exist
	// yet). It may be read only until the walk's callback returns.
	Files *Snapshot
}

// Walk calls fn with every commit reachable from commit sha (full hex),
// each once, sha first, then its ancestors in an order where a commit
// comes before its parents. The commits must have been fetched by s. The
// walk stops at the first error of fn, which it returns. fn must not call
// s's other methods: the walk holds s's lock.
func (s *Source) Walk(ctx context.Context, sha string, fn func(WalkCommit) error) error {
	return s.localCommit(ctx, sha, func(st *filesystem.Storage, head *object.Commit) error {
		return walk(ctx, st, head.Hash, func(c *object.Commit) (*Snapshot, error) {
			return newSnapshot(s, c, st), nil
		}, fn)
	})
}

// Walk calls fn with every commit reachable from rev (anything Snapshot
// accepts), as Source.Walk does; Files shows the fleet repo's directory of
// the checkout.
func (l *Local) Walk(ctx context.Context, rev string, fn func(WalkCommit) error) error {
	h, err := l.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return fmt.Errorf("revision %q: %w", rev, err)
	}
	return walk(ctx, l.st, *h, func(c *object.Commit) (*Snapshot, error) {
		sn := newSnapshot(nil, c, l.st)
		if l.prefix == "" {
			return sn, nil
		}
		id, err := sn.ObjectID(l.prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // the fleet directory does not exist at this commit
		}
		if err != nil {
			return nil, err
		}
		sn.root = plumbing.NewHash(id)
		return sn, nil
	}, fn)
}

// walk visits the commits reachable from head: a commit is visited once
// all its children reachable from head have been (Kahn's algorithm over
// the reachable graph), so that a walk sees the head first and every
// commit before its parents.
func walk(ctx context.Context, st *filesystem.Storage, head plumbing.Hash, files func(*object.Commit) (*Snapshot, error), fn func(WalkCommit) error) error {
	// First pass: the reachable commits and how many children each has.
	children := map[plumbing.Hash]int{head: 0}
	commits := map[plumbing.Hash]*object.Commit{}
	stack := []plumbing.Hash{head}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := object.GetCommit(st, h)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", h, err)
		}
		commits[h] = c
		for _, p := range c.ParentHashes {
			n, seen := children[p]
			children[p] = n + 1
			if !seen {
				stack = append(stack, p)
			}
		}
	}
	// Second pass: visit a commit once no unvisited child remains.
	ready := []plumbing.Hash{head}
	for len(ready) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		c := commits[h]
		sn, err := files(c)
		if err != nil {
			return fmt.Errorf("commit %s: %w", h, err)
		}
		wc := WalkCommit{SHA: h.String(), Time: c.Committer.When, Message: c.Message, Files: sn}
		for _, p := range c.ParentHashes {
			wc.Parents = append(wc.Parents, p.String())
		}
		if err := fn(wc); err != nil {
			return err
		}
		delete(commits, h)
		// Parents in reverse, so that the first parent is visited first
		// when several become ready.
		for i := len(c.ParentHashes) - 1; i >= 0; i-- {
			p := c.ParentHashes[i]
			if children[p]--; children[p] == 0 {
				ready = append(ready, p)
			}
		}
	}
	return nil
}

// ObjectID returns the Git object id (hex) of the file or directory name,
// without following a final symlink: two names, or one name at two
// commits, with the same id have the same content. A missing name fails
// with fs.ErrNotExist.
func (sn *Snapshot) ObjectID(name string) (string, error) {
	n, err := sn.lookup("objectid", name, false)
	if err != nil {
		return "", err
	}
	return n.hash.String(), nil
}
