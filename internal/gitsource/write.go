package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// CommitRequest describes a change to commit and push.
type CommitRequest struct {
	// Branch receives the commit; the tracked branch when empty. A branch
	// that does not exist yet starts from the tracked branch's head (the
	// pull-request flow).
	Branch string
	// Message is the commit message; Trailers are appended to it as a
	// "Key: Value" block.
	Message  string
	Trailers []Trailer
	// Change edits the branch's current content. It may be called more than
	// once: again on the new head whenever someone else pushed first, so it
	// must derive its edits from what it reads. It runs while the Source is
	// busy: it must not call the Source's methods, nor keep the WorkTree.
	Change func(*WorkTree) error
	// Force replaces Branch with a single commit without parents, holding
	// the branch's current content with Change applied (status reports,
	// SPEC §4). It cannot be used on the tracked branch.
	Force bool
	// Rebuild replaces Branch with one commit on top of the tracked
	// branch's head holding Change (a pull-request branch, SPEC §5). When
	// Branch already holds the same content in every file Change edits,
	// nothing is pushed. It cannot be used on the tracked branch.
	Rebuild bool
}

// Trailer is one "Key: Value" line at the end of a commit message.
type Trailer struct {
	Key   string
	Value string
}

// Commit applies req.Change on top of the branch's head on the server,
// commits and pushes. When someone else pushed in between, it fetches,
// applies the change again on the new head and retries, with exponential
// backoff, a bounded number of times. A change that leaves the content as it
// was pushes nothing and returns the current head. It returns the hash of
// the branch's head after the push.
func (s *Source) Commit(ctx context.Context, req CommitRequest) (string, error) {
	sha, _, err := s.CommitChange(ctx, req)
	return sha, err
}

// CommitChange is Commit that also reports whether a commit was pushed
// (false when the change left the branch as it was).
func (s *Source) CommitChange(ctx context.Context, req CommitRequest) (sha string, pushed bool, err error) {
	branch := req.Branch
	if branch == "" {
		branch = s.branch
	}
	if err := s.checkRequest(req, branch); err != nil {
		return "", false, err
	}
	delay := s.backoff
	var lastErr error
	for attempt := 1; attempt <= s.maxAttempts; attempt++ {
		if attempt > 1 {
			s.log.Info("branch moved while pushing; retrying on its new head", "branch", branch, "attempt", attempt, "reason", lastErr)
			if err := sleep(ctx, delay+rand.N(delay)); err != nil {
				return "", false, fmt.Errorf("committing to %s: %w (after: %v)", branch, err, lastErr)
			}
			delay *= 2
		}
		sha, pushed, err := s.commitOnce(ctx, req, branch)
		if !errors.Is(err, errMoved) {
			return sha, pushed, err
		}
		lastErr = err
	}
	return "", false, newError(ErrPushRejected, lastErr, "pushing to branch %q of %s: gave up after %d attempts, the branch kept moving: %v", branch, s.ep, s.maxAttempts, lastErr)
}

// errMoved reports that the branch changed on the server since it was read.
var errMoved = errors.New("the branch moved on the server")

func (s *Source) checkRequest(req CommitRequest, branch string) error {
	if req.Change == nil {
		return errors.New("commit: no change function")
	}
	if strings.TrimSpace(req.Message) == "" {
		return errors.New("commit: empty message")
	}
	if err := validBranch(branch); err != nil {
		return err
	}
	if (req.Force || req.Rebuild) && branch == s.branch {
		return fmt.Errorf("commit: refusing to force-replace the tracked branch %q", branch)
	}
	if req.Force && req.Rebuild {
		return errors.New("commit: Force and Rebuild exclude each other")
	}
	for _, t := range req.Trailers {
		if t.Key == "" || strings.ContainsAny(t.Key, ": \t\r\n") || strings.ContainsAny(t.Value, "\r\n") {
			return fmt.Errorf("commit: invalid trailer %q: %q", t.Key, t.Value)
		}
	}
	return nil
}

// commitOnce makes one attempt: fetch, build, push.
func (s *Source) commitOnce(ctx context.Context, req CommitRequest, branch string) (string, bool, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	ctx, cancel := s.withTimeout(ctx) // the wait for the lock is not the server's time
	defer cancel()
	heads, err := s.sync(ctx, s.branch, branch)
	if err != nil {
		return "", false, err
	}
	old, exists := heads[branch]
	parent := old
	if !exists || req.Rebuild {
		var ok bool
		if parent, ok = heads[s.branch]; !ok && !(req.Force && !exists) {
			return "", false, s.branchNotFound(s.branch)
		}
		// A new forced branch needs no tracked branch: a status repo may
		// hold nothing but status branches.
	}
	st := s.store
	commit, objects, err := s.build(ctx, st, req, parent, old)
	if err != nil {
		return "", false, err
	}
	if commit.IsZero() {
		// No change: the branch stays where it is (or is not created).
		if req.Rebuild && exists {
			return old.String(), false, nil
		}
		return parent.String(), false, nil
	}
	if err := s.push(ctx, st, branch, old, commit, objects); err != nil {
		return "", false, err
	}
	if err := setTracking(st, branch, commit); err != nil {
		return "", false, fmt.Errorf("recording %s: %w", trackingRef(branch), err)
	}
	s.log.Info("pushed", "branch", branch, "commit", commit.String(), "subject", firstLine(req.Message))
	return commit.String(), true, nil
}

// build runs the change on parent's content and writes the commit. It
// returns the zero hash when the change leaves the content as it was (for a
// forced branch: as the branch's single existing commit has it; for a
// rebuilt one: as the branch's current head, old, has the edited files).
func (s *Source) build(ctx context.Context, st *filesystem.Storage, req CommitRequest, parent, old plumbing.Hash) (plumbing.Hash, []plumbing.Hash, error) {
	branchExists := !old.IsZero()
	var pc *object.Commit
	var base *Snapshot
	if !parent.IsZero() {
		var err error
		if pc, err = object.GetCommit(st, parent); err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("reading commit %s: %w", parent, err)
		}
		// The change reads through the Source's own storage, which is locked.
		base = newSnapshot(s, pc, st)
	}
	if req.Force && !branchExists {
		base = nil // a new status branch starts empty
	}
	wt := newWorkTree(base)
	if err := req.Change(wt); err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("commit: change: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	var baseTree plumbing.Hash
	if base != nil {
		baseTree = base.root
	}
	b := &treeBuilder{st: st}
	tree, err := b.build(baseTree, wt.edits)
	if err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("commit: %w", err)
	}
	parents := []plumbing.Hash{parent}
	if req.Force {
		parents = nil
		if branchExists && tree == pc.TreeHash && len(pc.ParentHashes) == 0 {
			return plumbing.ZeroHash, nil, nil
		}
	} else if tree == pc.TreeHash {
		return plumbing.ZeroHash, nil, nil
	}
	if req.Rebuild && branchExists {
		same, err := s.holds(st, old, wt.edits)
		if err != nil || same {
			return plumbing.ZeroHash, nil, err
		}
	}
	now := time.Now()
	sig := object.Signature{Name: s.author.Name, Email: s.author.Email, When: now}
	c := &object.Commit{Author: sig, Committer: sig, Message: message(req), TreeHash: tree, ParentHashes: parents}
	if s.signer != nil {
		if err := signCommit(c, s.signer); err != nil {
			return plumbing.ZeroHash, nil, err
		}
	}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, nil, fmt.Errorf("encoding commit: %w", err)
	}
	h, err := b.store(obj)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	return h, b.written, nil
}

// holds reports whether commit h has the content edits give each file they
// touch.
func (s *Source) holds(st *filesystem.Storage, h plumbing.Hash, edits map[string]*edit) (bool, error) {
	c, err := object.GetCommit(st, h)
	if err != nil {
		return false, fmt.Errorf("reading commit %s: %w", h, err)
	}
	sn := newSnapshot(s, c, st)
	for name, e := range edits {
		data, err := sn.ReadFile(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !e.removed {
				return false, nil
			}
		case err != nil:
			return false, err
		case e.removed || !bytes.Equal(data, e.data):
			return false, nil
		}
	}
	return true, nil
}

// message is the commit message with its trailer block.
func message(req CommitRequest) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(req.Message, "\n"))
	b.WriteString("\n")
	if len(req.Trailers) > 0 {
		b.WriteString("\n")
		for _, t := range req.Trailers {
			fmt.Fprintf(&b, "%s: %s\n", t.Key, t.Value)
		}
	}
	return b.String()
}

// push sends objects and moves branch from old (zero: create it) to commit.
// The server applies the update only if the branch is still at old, so a
// concurrent push makes it fail with errMoved rather than lose either side.
func (s *Source) push(ctx context.Context, st *filesystem.Storage, branch string, old, commit plumbing.Hash, objects []plumbing.Hash) error {
	sess, refs, err := s.openReceivePack(ctx, "pushing to")
	if err != nil {
		return err
	}
	defer func() { _ = sess.Close() }()
	ref := branchRef(branch)
	if now := advertised(refs, ref); now != old {
		return fmt.Errorf("%w: %s is at %s, not %s", errMoved, branch, short(now), short(old))
	}
	slices.SortFunc(objects, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	objects = slices.Compact(objects)
	var pack bytes.Buffer
	useRefDeltas := !refs.Capabilities.Supports(capability.OFSDelta)
	if _, err := packfile.NewEncoder(&pack, st, useRefDeltas).Encode(objects, 0); err != nil {
		return fmt.Errorf("packing the commit: %w", err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(refs.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: old, New: commit}}
	req.Packfile = io.NopCloser(&pack)
	report, err := sess.ReceivePack(ctx, req)
	if err == nil && report != nil {
		err = report.Error()
	}
	if err == nil {
		return nil
	}
	if report == nil {
		return s.classify(err, "pushing to", nil)
	}
	// The server refused the update. If the branch moved, retry; otherwise
	// the refusal is final (a protected branch, a hook, a read-only key).
	if now, herr := s.remoteHead(ctx, branch); herr == nil && now != old {
		return fmt.Errorf("%w: %v", errMoved, err)
	}
	return newError(ErrPushRejected, err, "push to branch %q of %s rejected: %v", branch, s.ep, err)
}

// remoteHead is where branch is on the server (zero when missing).
func (s *Source) remoteHead(ctx context.Context, branch string) (plumbing.Hash, error) {
	sess, refs, err := s.openUploadPack(ctx, "listing")
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	_ = sess.Close()
	return advertised(refs, branchRef(branch)), nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing"
	}
	return h.String()[:12]
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
