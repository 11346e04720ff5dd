package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Revision is a commit of the tracked branch.
type Revision struct {
	// SHA is the commit's full hex hash.
	SHA string
	// Branch is the branch it was fetched from.
	Branch string
	// Time is the commit time.
	Time time.Time
	// Subject is the first line of the commit message.
	Subject string
}

// Head returns the commit the server's branch points to, from the
// references the server advertises (git ls-remote): one round trip, no
// objects transferred.
func (s *Source) Head(ctx context.Context) (string, error) {
	if s.offline {
		return s.localHead(ctx)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess, refs, err := s.openUploadPack(ctx, "listing")
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return "", s.branchNotFound(s.branch)
	}
	if err != nil {
		return "", err
	}
	_ = sess.Close()
	h := advertised(refs, branchRef(s.branch))
	if h.IsZero() {
		return "", s.branchNotFound(s.branch)
	}
	return h.String(), nil
}

// Fetch brings the local repository up to the server's branch and returns
// the branch's revision. When the branch has not moved since the last fetch
// (also across restarts) it transfers no objects; when it has, only the new
// objects. A local repository found damaged is re-cloned. changed reports
// whether the revision differs from what the previous Fetch returned (always
// true for the first).
func (s *Source) Fetch(ctx context.Context) (rev Revision, changed bool, err error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return Revision{}, false, err
	}
	defer unlock()
	ctx, cancel := s.withTimeout(ctx) // the wait for the lock is not the server's time
	defer cancel()
	heads, err := s.sync(ctx, s.branch)
	if err != nil {
		return Revision{}, false, err
	}
	h, ok := heads[s.branch]
	if !ok {
		return Revision{}, false, s.branchNotFound(s.branch)
	}
	rev, err = s.revision(h)
	if err != nil {
		return Revision{}, false, err
	}
	changed = rev.SHA != s.last
	s.last = rev.SHA
	return rev, changed, nil
}

// sync fetches branches (those that exist on the server) into the local
// repository, updates their tracking refs and returns their heads. Callers
// hold s.mu.
func (s *Source) sync(ctx context.Context, branches ...string) (map[string]plumbing.Hash, error) {
	st, err := s.storage()
	if err != nil {
		return nil, err
	}
	if s.offline {
		return s.localHeads(ctx, st, branches)
	}
	if reason := s.damage(ctx, st, branches); reason != "" {
		return s.reclone(ctx, branches, reason)
	}
	sess, refs, err := s.openUploadPack(ctx, "fetching from")
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]plumbing.Hash{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = sess.Close() }()
	heads := map[string]plumbing.Hash{}
	for _, b := range branches {
		if h := advertised(refs, branchRef(b)); !h.IsZero() {
			heads[b] = h
		}
	}
	var wants []plumbing.Hash
	for _, h := range heads {
		if st.HasEncodedObject(h) != nil {
			wants = append(wants, h)
		}
	}
	if len(wants) > 0 {
		s.log.Debug("fetching", "wants", len(wants))
		if err := s.fetchPack(ctx, sess, refs, st, wants, haves(st)); err != nil {
			if ctx.Err() == nil && s.damage(ctx, st, branches) != "" {
				_ = sess.Close()
				return s.reclone(ctx, branches, "fetch failed: "+err.Error())
			}
			return nil, s.classify(err, "fetching from", nil)
		}
	}
	for b, h := range heads {
		if err := setTracking(st, b, h); err != nil {
			return nil, fmt.Errorf("recording %s: %w", trackingRef(b), err)
		}
	}
	if h, ok := heads[s.branch]; ok {
		if err := s.intact.verify(ctx, st, h); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("checking the local repository: %w", err)
			}
			_ = sess.Close()
			return s.reclone(ctx, branches, "damaged: "+err.Error())
		}
	}
	if n, err := packCount(st); err == nil && n > s.maxPacks {
		_ = sess.Close()
		compacted, err := s.reclone(ctx, branches, fmt.Sprintf("compacting %d pack files", n))
		if err != nil {
			s.log.Warn("compacting the local repository failed; keeping it as it is", "error", err)
			return heads, nil
		}
		return compacted, nil
	}
	return heads, nil
}

// localHead is Head for an offline Source.
func (s *Source) localHead(ctx context.Context) (string, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return "", err
	}
	h, err := tracking(st, s.branch)
	if err != nil {
		return "", err
	}
	if h.IsZero() {
		return "", s.branchNotFound(s.branch)
	}
	return h.String(), nil
}

// localHeads is sync for an offline Source: the branches where the local
// repository last saw them, checked readable (there is no server to re-clone
// from, so damage is an error).
func (s *Source) localHeads(ctx context.Context, st *filesystem.Storage, branches []string) (map[string]plumbing.Hash, error) {
	if reason := s.damage(ctx, st, branches); reason != "" {
		return nil, fmt.Errorf("the local repository of %s at %s is damaged and syncd is offline (--offline), so it cannot be re-cloned: %s; import a complete bundle (created without --since) into a new --cache-dir", s.ep, s.dir, reason)
	}
	heads := map[string]plumbing.Hash{}
	for _, b := range branches {
		h, err := tracking(st, b)
		if err != nil {
			return nil, err
		}
		if !h.IsZero() {
			heads[b] = h
		}
	}
	return heads, nil
}

// damage says why the local repository cannot be trusted, or "" when it
// can: a snapshot read failed, or a tracking ref or the commit it names is
// unreadable.
func (s *Source) damage(ctx context.Context, st *filesystem.Storage, branches []string) string {
	if s.suspect.Load() {
		return "reading a snapshot failed"
	}
	for _, b := range branches {
		h, err := tracking(st, b)
		if err != nil {
			return err.Error()
		}
		if h.IsZero() {
			continue
		}
		if b != s.branch {
			if _, err := object.GetCommit(st, h); err != nil {
				return fmt.Sprintf("commit %s of %s: %v", h, b, err)
			}
			continue
		}
		if err := s.intact.verify(ctx, st, h); err != nil {
			if ctx.Err() != nil {
				return "" // not damage: the caller's next step reports the timeout
			}
			return err.Error()
		}
	}
	return ""
}

// reclone fetches branches into a new local repository and swaps it in
// when complete, so a failure leaves the old one in place.
func (s *Source) reclone(ctx context.Context, branches []string, reason string) (map[string]plumbing.Hash, error) {
	s.log.Warn("re-cloning the local repository", "reason", reason, "dir", s.dir)
	fresh := s.dir + ".new"
	if err := os.RemoveAll(fresh); err != nil {
		return nil, fmt.Errorf("re-cloning: %w", err)
	}
	checked := intact{}
	heads, err := s.cloneInto(ctx, fresh, branches, checked)
	if err != nil {
		_ = os.RemoveAll(fresh)
		return nil, err
	}
	if err := s.swapCache(fresh); err != nil {
		return nil, fmt.Errorf("re-cloning: replacing the local repository: %w", err)
	}
	s.suspect.Store(false)
	s.intact = checked
	return heads, nil
}

// cloneInto fetches branches into a new repository at dir and verifies them.
func (s *Source) cloneInto(ctx context.Context, dir string, branches []string, checked intact) (map[string]plumbing.Hash, error) {
	st, err := initCache(dir, s.ep)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()
	sess, refs, err := s.openUploadPack(ctx, "cloning")
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]plumbing.Hash{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = sess.Close() }()
	heads := map[string]plumbing.Hash{}
	var wants []plumbing.Hash
	for _, b := range branches {
		if h := advertised(refs, branchRef(b)); !h.IsZero() {
			heads[b] = h
			wants = append(wants, h)
		}
	}
	if len(wants) > 0 {
		if err := s.fetchPack(ctx, sess, refs, st, wants, nil); err != nil {
			return nil, s.classify(err, "cloning", nil)
		}
	}
	for b, h := range heads {
		if err := checked.verify(ctx, st, h); err != nil {
			return nil, fmt.Errorf("re-cloning: %s is incomplete: %w", b, err)
		}
		if err := setTracking(st, b, h); err != nil {
			return nil, err
		}
	}
	return heads, nil
}

// fetchPack asks the server for wants given haves and stores the pack.
func (s *Source) fetchPack(ctx context.Context, sess transport.UploadPackSession, refs *packp.AdvRefs,
	st storer.Storer, wants, haves []plumbing.Hash,
) error {
	req := packp.NewUploadPackRequestFromCapabilities(refs.Capabilities)
	if refs.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return err
		}
	}
	req.Wants = wants
	req.Haves = haves
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Close() }()
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if err := packfile.UpdateObjectStorage(st, pack); err != nil {
		return err
	}
	s.fetches.Add(1)
	return nil
}

// haves lists the commits the local repository has refs for, so the server
// sends only what is new.
func haves(st *filesystem.Storage) []plumbing.Hash {
	iter, err := st.IterReferences()
	if err != nil {
		return nil
	}
	var hs []plumbing.Hash
	_ = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && !r.Hash().IsZero() {
			hs = append(hs, r.Hash())
		}
		return nil
	})
	return hs
}

// revision describes commit h of the tracked branch. Callers hold s.mu.
func (s *Source) revision(h plumbing.Hash) (Revision, error) {
	c, err := object.GetCommit(s.store, h)
	if err != nil {
		return Revision{}, fmt.Errorf("reading commit %s: %w", h, err)
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	return Revision{SHA: h.String(), Branch: s.branch, Time: c.Committer.When, Subject: subject}, nil
}
