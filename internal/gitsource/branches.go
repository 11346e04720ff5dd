package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// FetchBranches brings every server branch whose name starts with prefix
// (such as "syncd/status/") into the local repository in one session — one
// reference listing and at most one pack, whatever the number of branches —
// and returns each branch's head commit by branch name. Branches already up
// to date transfer nothing. The local tracking refs of branches under prefix
// that the server no longer has are removed.
func (s *Source) FetchBranches(ctx context.Context, prefix string) (map[string]string, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx, cancel := s.withTimeout(ctx) // the wait for the lock is not the server's time
	defer cancel()
	st, err := s.storage()
	if err != nil {
		return nil, err
	}
	sess, refs, err := s.openUploadPack(ctx, "fetching from")
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]string{}, pruneTracking(st, prefix, nil)
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = sess.Close() }()
	heads := map[string]plumbing.Hash{}
	for name, h := range refs.References {
		ref := plumbing.ReferenceName(name)
		if !ref.IsBranch() || h.IsZero() {
			continue
		}
		if b := ref.Short(); strings.HasPrefix(b, prefix) {
			heads[b] = h
		}
	}
	var wants []plumbing.Hash
	for _, h := range heads {
		if _, err := object.GetCommit(st, h); err != nil {
			wants = append(wants, h)
		}
	}
	if len(wants) > 0 {
		s.log.Debug("fetching branches", "prefix", prefix, "branches", len(heads), "wants", len(wants))
		if err := s.fetchPack(ctx, sess, refs, st, wants, haves(st)); err != nil {
			return nil, s.classify(err, "fetching from", nil)
		}
	}
	out := make(map[string]string, len(heads))
	for b, h := range heads {
		if err := setTracking(st, b, h); err != nil {
			return nil, fmt.Errorf("recording %s: %w", trackingRef(b), err)
		}
		out[b] = h.String()
	}
	return out, pruneTracking(st, prefix, heads)
}

// pruneTracking removes the tracking refs of branches under prefix that are
// not in keep.
func pruneTracking(st *filesystem.Storage, prefix string, keep map[string]plumbing.Hash) error {
	iter, err := st.IterReferences()
	if err != nil {
		return fmt.Errorf("listing local refs: %w", err)
	}
	var gone []plumbing.ReferenceName
	remote := trackingRef(prefix).String()
	_ = iter.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().String()
		if !strings.HasPrefix(name, remote) {
			return nil
		}
		if _, ok := keep[strings.TrimPrefix(name, trackingRef("").String())]; !ok {
			gone = append(gone, r.Name())
		}
		return nil
	})
	for _, name := range gone {
		if err := st.RemoveReference(name); err != nil {
			return fmt.Errorf("removing %s: %w", name, err)
		}
	}
	return nil
}

// ReadFileAt returns the content of the file name in commit sha, which must
// be in the local repository (fetched, for instance, by FetchBranches).
// It fails with an error matching fs.ErrNotExist when the commit has no such
// file.
func (s *Source) ReadFileAt(ctx context.Context, sha, name string) ([]byte, error) {
	var data []byte
	err := s.localCommit(ctx, sha, func(st *filesystem.Storage, c *object.Commit) error {
		blob, err := blobAt(st, c.TreeHash, name)
		if err != nil {
			return fmt.Errorf("reading %s at %s: %w", name, sha, err)
		}
		if blob.IsZero() {
			return fmt.Errorf("reading %s at %s: %w", name, sha, fs.ErrNotExist)
		}
		data, err = readBlob(st, blob)
		if err != nil {
			return fmt.Errorf("reading %s at %s: %w", name, sha, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}
