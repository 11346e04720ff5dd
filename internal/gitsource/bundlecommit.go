package gitsource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/hashicorp/go-hclog"
)

// BundleCommitter makes the commits of forced branches (CommitRequest.Force:
// status reports) as a Source would, signed the same way, but in memory and
// without a server, and writes them as a git bundle: an airgapped site's
// report leaves on a file (`syncd bundle status-export`), and PushBundle on
// the connected side pushes the very same commit, signature included.
type BundleCommitter struct {
	s     *Source
	heads map[string]plumbing.Hash
}

// NewBundleCommitter returns a BundleCommitter whose commits are by author
// (Options.Author's default when empty) and signed with the SSH private key
// file signingKey (unsigned when empty).
func NewBundleCommitter(author Signature, signingKey string) (*BundleCommitter, error) {
	s := &Source{
		author: author, log: hclog.NewNullLogger(), mu: make(chan struct{}, 1),
		store: filesystem.NewStorage(memfs.New(), cache.NewObjectLRUDefault()),
	}
	if s.author.Name == "" {
		s.author.Name = "syncd"
	}
	if s.author.Email == "" {
		s.author.Email = "syncd@localhost"
	}
	if signingKey != "" {
		var err error
		if s.signer, err = loadSigningKey(signingKey); err != nil {
			return nil, err
		}
	}
	return &BundleCommitter{s: s, heads: map[string]plumbing.Hash{}}, nil
}

// Commit makes req's branch a single commit holding what req.Change writes
// on an empty tree. Only forced requests naming their branch are accepted.
func (b *BundleCommitter) Commit(ctx context.Context, req CommitRequest) (string, error) {
	if !req.Force || req.Branch == "" {
		return "", errors.New("commit: a bundle holds only forced branches named by the request")
	}
	if err := b.s.checkRequest(req, req.Branch); err != nil {
		return "", err
	}
	h, _, err := b.s.build(ctx, b.s.store, req, plumbing.ZeroHash, plumbing.ZeroHash)
	if err != nil {
		return "", err
	}
	b.heads[req.Branch] = h
	return h.String(), nil
}

// WriteBundle writes every branch committed so far, as a self-contained git
// bundle.
func (b *BundleCommitter) WriteBundle(w io.Writer) (BundleStats, error) {
	if len(b.heads) == 0 {
		return BundleStats{}, errors.New("git bundle: nothing committed")
	}
	var refs []BundleRef
	for branch, h := range b.heads {
		refs = append(refs, BundleRef{Name: branchRef(branch), Hash: h})
	}
	slices.SortFunc(refs, func(x, y BundleRef) int { return strings.Compare(x.Name.String(), y.Name.String()) })
	stats, err := writeBundle(w, b.s.store, refs, nil)
	stats.Head = refs[0].Hash.String()
	return stats, err
}

// Bundle is a self-contained git bundle (one without prerequisites) read
// into memory: small bundles only, such as a site's status report.
type Bundle struct {
	// Header is the bundle's header.
	Header BundleHeader
	st     *memory.Storage
}

// ReadBundle reads a self-contained git bundle from r.
func ReadBundle(r io.Reader) (*Bundle, error) {
	br := bufio.NewReader(r)
	hdr, err := ReadBundleHeader(br)
	if err != nil {
		return nil, err
	}
	if len(hdr.Prerequisites) > 0 {
		return nil, fmt.Errorf("git bundle: builds on %d commit(s) it does not hold; want a self-contained bundle", len(hdr.Prerequisites))
	}
	st := memory.NewStorage()
	if err := packfile.UpdateObjectStorage(st, br); err != nil {
		return nil, fmt.Errorf("git bundle: reading its pack: %w", err)
	}
	for _, ref := range hdr.Refs {
		if _, err := object.GetCommit(st, ref.Hash); err != nil {
			return nil, fmt.Errorf("git bundle: %s: commit %s: %w", ref.Name, ref.Hash, err)
		}
	}
	return &Bundle{Header: hdr, st: st}, nil
}

// Commit returns commit h of the bundle, with its signature.
func (b *Bundle) Commit(h plumbing.Hash) (*object.Commit, error) {
	return object.GetCommit(b.st, h)
}

// Files returns every file of commit h of the bundle by path.
func (b *Bundle) Files(h plumbing.Hash) (map[string][]byte, error) {
	c, err := object.GetCommit(b.st, h)
	if err != nil {
		return nil, err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	files := map[string][]byte{}
	err = t.Files().ForEach(func(f *object.File) error {
		data, err := f.Contents()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		files[f.Name] = []byte(data)
		return nil
	})
	return files, err
}

// PushBundle makes branch on the server the commit the bundle b brings as
// ref refs/heads/<branch>, replacing whatever the branch held (as a forced
// status branch is replaced), with the objects b holds: the commit stays
// byte for byte what was exported, signature included. It retries when the
// branch moves meanwhile, and reports whether it pushed (false: the branch
// already was that commit).
func (s *Source) PushBundle(ctx context.Context, b *Bundle, branch string) (pushed bool, err error) {
	if err := validBranch(branch); err != nil {
		return false, err
	}
	if branch == s.branch {
		return false, fmt.Errorf("refusing to replace the tracked branch %q", branch)
	}
	commit := b.Header.Ref(branchRef(branch))
	if commit.IsZero() {
		return false, fmt.Errorf("git bundle does not bring branch %s", branch)
	}
	var lastErr error
	for attempt := 1; attempt <= s.maxAttempts; attempt++ {
		pushed, err := s.pushBundleOnce(ctx, b, branch, commit)
		if !errors.Is(err, errMoved) {
			return pushed, err
		}
		lastErr = err
		if err := sleep(ctx, s.backoff); err != nil {
			return false, err
		}
	}
	return false, newError(ErrPushRejected, lastErr, "pushing to branch %q of %s: gave up after %d attempts, the branch kept moving: %v", branch, s.ep, s.maxAttempts, lastErr)
}

func (s *Source) pushBundleOnce(ctx context.Context, b *Bundle, branch string, commit plumbing.Hash) (bool, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	heads, err := s.sync(ctx, branch)
	if err != nil {
		return false, err
	}
	old := heads[branch]
	if old == commit {
		return false, nil
	}
	st := s.store
	var objects []plumbing.Hash
	iter, err := b.st.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		return false, err
	}
	err = iter.ForEach(func(o plumbing.EncodedObject) error {
		h, err := st.SetEncodedObject(o)
		objects = append(objects, h)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("copying the bundle's objects: %w", err)
	}
	if err := s.push(ctx, st, branch, old, commit, objects); err != nil {
		return false, err
	}
	if err := setTracking(st, branch, commit); err != nil {
		return false, fmt.Errorf("recording %s: %w", trackingRef(branch), err)
	}
	s.log.Info("pushed", "branch", branch, "commit", commit.String(), "from", "bundle")
	return true, nil
}
