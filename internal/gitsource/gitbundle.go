package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Git bundles (the format of `git bundle create`, version 2) carry commits
// to a repository that cannot fetch them: a header naming the commits the
// receiver must already have (prerequisites) and the refs the bundle
// brings, then a pack of the objects. `git fetch FILE` and `git bundle
// verify FILE` read what WriteBundle writes.

// bundleSignature starts every version 2 bundle.
const bundleSignature = "# v2 git bundle\n"

// Limits of a bundle header read from an untrusted file.
const (
	maxBundleRefs       = 1024
	maxBundleHeaderLine = 4096
)

// BundleRef is one ref a bundle brings.
type BundleRef struct {
	Name plumbing.ReferenceName
	Hash plumbing.Hash
}

// BundleHeader is what a bundle says before its pack.
type BundleHeader struct {
	// Prerequisites are the commits the receiving repository must have.
	Prerequisites []plumbing.Hash
	// Refs are the refs the bundle brings, in file order.
	Refs []BundleRef
}

// Ref returns the hash of ref name, or the zero hash.
func (h BundleHeader) Ref(name plumbing.ReferenceName) plumbing.Hash {
	for _, r := range h.Refs {
		if r.Name == name {
			return r.Hash
		}
	}
	return plumbing.ZeroHash
}

// ReadBundleHeader reads a bundle's header from r, leaving r at the start of
// its pack.
func ReadBundleHeader(r *bufio.Reader) (BundleHeader, error) {
	var h BundleHeader
	line, err := readBundleLine(r)
	if err != nil {
		return h, fmt.Errorf("git bundle: %w", err)
	}
	if line+"\n" != bundleSignature {
		return h, fmt.Errorf("git bundle: not a version 2 git bundle (starts %q)", truncate(line, 40))
	}
	for {
		line, err := readBundleLine(r)
		if err != nil {
			return h, fmt.Errorf("git bundle: header: %w", err)
		}
		if line == "" {
			break
		}
		if len(h.Refs)+len(h.Prerequisites) >= maxBundleRefs {
			return h, fmt.Errorf("git bundle: header: more than %d lines", maxBundleRefs)
		}
		if rest, ok := strings.CutPrefix(line, "-"); ok {
			sha, _, _ := strings.Cut(rest, " ")
			if !isFullHash(sha) {
				return h, fmt.Errorf("git bundle: prerequisite %q is not a commit hash", truncate(sha, 50))
			}
			h.Prerequisites = append(h.Prerequisites, plumbing.NewHash(sha))
			continue
		}
		sha, name, ok := strings.Cut(line, " ")
		if !ok || !isFullHash(sha) {
			return h, fmt.Errorf("git bundle: header line %q is neither a ref nor a prerequisite", truncate(line, 60))
		}
		ref := plumbing.ReferenceName(name)
		if err := ref.Validate(); err != nil || !strings.HasPrefix(name, "refs/") {
			return h, fmt.Errorf("git bundle: invalid ref name %q", truncate(name, 60))
		}
		if !h.Ref(ref).IsZero() {
			return h, fmt.Errorf("git bundle: ref %s listed twice", name)
		}
		h.Refs = append(h.Refs, BundleRef{Name: ref, Hash: plumbing.NewHash(sha)})
	}
	if len(h.Refs) == 0 {
		return h, errors.New("git bundle: no refs")
	}
	return h, nil
}

// readBundleLine reads one header line without its newline.
func readBundleLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxBundleHeaderLine {
			return "", fmt.Errorf("a header line is longer than %d bytes", maxBundleHeaderLine)
		}
		if err == nil {
			return string(b[:len(b)-1]), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

func isFullHash(s string) bool { return len(s) == 40 && plumbing.IsHash(s) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// BundleStats says what a bundle holds.
type BundleStats struct {
	// Head is the commit the bundle's ref points to.
	Head string
	// Commits and Objects count what the pack holds.
	Commits, Objects int
}

// writeBundle writes a bundle of refs whose pack holds the objects they reach
// that prerequisites do not, each prerequisite an ancestor of a ref.
func writeBundle(w io.Writer, st storer.EncodedObjectStorer, refs []BundleRef, prerequisites []plumbing.Hash) (BundleStats, error) {
	var stats BundleStats
	var wants []plumbing.Hash
	for _, r := range refs {
		wants = append(wants, r.Hash)
	}
	objs, err := revlist.Objects(st, wants, prerequisites)
	if err != nil {
		return stats, fmt.Errorf("listing the objects of the bundle: %w", err)
	}
	slices.SortFunc(objs, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	for _, h := range objs {
		if t, err := st.EncodedObject(plumbing.AnyObject, h); err == nil && t.Type() == plumbing.CommitObject {
			stats.Commits++
		}
	}
	stats.Objects = len(objs)
	var hdr strings.Builder
	hdr.WriteString(bundleSignature)
	for _, p := range prerequisites {
		fmt.Fprintf(&hdr, "-%s\n", p)
	}
	for _, r := range refs {
		fmt.Fprintf(&hdr, "%s %s\n", r.Hash, r.Name)
	}
	hdr.WriteString("\n")
	if _, err := io.WriteString(w, hdr.String()); err != nil {
		return stats, err
	}
	if _, err := packfile.NewEncoder(w, st, false).Encode(objs, 10); err != nil {
		return stats, fmt.Errorf("writing the pack: %w", err)
	}
	return stats, nil
}

// isAncestor reports whether commit a is b or one of b's ancestors.
func isAncestor(st storer.EncodedObjectStorer, a, b plumbing.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	cb, err := object.GetCommit(st, b)
	if err != nil {
		return false, err
	}
	found := false
	iter := object.NewCommitPreorderIter(cb, nil, nil)
	err = iter.ForEach(func(c *object.Commit) error {
		if c.Hash == a {
			found = true
			return storer.ErrStop
		}
		return nil
	})
	return found, err
}

// WriteBundle writes the tracked branch at head (a commit of the local
// repository: Fetch first) to w as a git bundle holding the commits since
// since (an ancestor of head; all of head's history when empty), for a
// repository that cannot fetch (`syncd bundle create`).
func (s *Source) WriteBundle(ctx context.Context, w io.Writer, head, since string) (BundleStats, error) {
	h, err := parseSHA(head)
	if err != nil {
		return BundleStats{}, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return BundleStats{}, err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return BundleStats{}, err
	}
	var prereqs []plumbing.Hash
	if since != "" {
		sh, err := s.resolveLocal(st, since)
		if err != nil {
			return BundleStats{}, fmt.Errorf("--since %s: %w", since, err)
		}
		ok, err := isAncestor(st, sh, h)
		if err != nil {
			return BundleStats{}, fmt.Errorf("--since %s: %w", since, err)
		}
		if !ok {
			return BundleStats{}, fmt.Errorf("--since %s is not an ancestor of %s, the head of %s", since, short(h), s.branch)
		}
		if sh == h {
			return BundleStats{}, fmt.Errorf("--since %s is the head of %s: the bundle would bring nothing", since, s.branch)
		}
		prereqs = []plumbing.Hash{sh}
	}
	stats, err := writeBundle(w, st, []BundleRef{{Name: branchRef(s.branch), Hash: h}}, prereqs)
	stats.Head = h.String()
	return stats, err
}

// resolveLocal finds a commit of the local repository by full or
// abbreviated hash.
func (s *Source) resolveLocal(st storer.EncodedObjectStorer, rev string) (plumbing.Hash, error) {
	if isFullHash(rev) {
		h := plumbing.NewHash(rev)
		if _, err := object.GetCommit(st, h); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("commit %s is not in the fleet repo's branch %s: %w", rev, s.branch, err)
		}
		return h, nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%q is not a full commit hash (40 hex digits)", rev)
}

// ErrNotFastForward: a bundle's head does not descend from the revision the
// local repository already has, so importing it would move the site back or
// sideways.
var ErrNotFastForward = errors.New("not a fast-forward")

// ImportBundle reads a git bundle of the tracked branch (WriteBundle's
// output) into the local repository and moves the branch there, as a Fetch
// from the server would: a following Fetch of an offline Source
// (Options.Offline) returns its head. It refuses a bundle that brings another branch, that builds on
// commits the local repository lacks (prerequisites), or whose head does not
// descend from the branch's current revision (ErrNotFastForward); objects
// read before such a refusal stay in the repository unreferenced, which is
// harmless. A bundle whose head the branch already has changes nothing
// (changed false).
func (s *Source) ImportBundle(ctx context.Context, r io.Reader) (rev Revision, changed bool, err error) {
	return s.importBundle(ctx, r, true)
}

// CheckBundle makes every check of ImportBundle and stores the bundle's
// objects, but leaves the branch where it is: changed says whether
// ImportBundle of the same bundle would move it. An import of several parts
// (the commits and the images of `syncd bundle import`) checks them all
// before it changes what the site sees.
func (s *Source) CheckBundle(ctx context.Context, r io.Reader) (rev Revision, changed bool, err error) {
	return s.importBundle(ctx, r, false)
}

func (s *Source) importBundle(ctx context.Context, r io.Reader, move bool) (rev Revision, changed bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr, err := ReadBundleHeader(br)
	if err != nil {
		return Revision{}, false, err
	}
	want := branchRef(s.branch)
	if len(hdr.Refs) != 1 || hdr.Refs[0].Name != want {
		names := make([]string, len(hdr.Refs))
		for i, ref := range hdr.Refs {
			names[i] = ref.Name.String()
		}
		return Revision{}, false, fmt.Errorf("git bundle brings %s, not the tracked branch %s alone", strings.Join(names, ", "), want)
	}
	head := hdr.Refs[0].Hash
	unlock, err := s.lock(ctx)
	if err != nil {
		return Revision{}, false, err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return Revision{}, false, err
	}
	current, err := tracking(st, s.branch)
	if err != nil {
		return Revision{}, false, err
	}
	for _, p := range hdr.Prerequisites {
		if _, err := object.GetCommit(st, p); err != nil {
			have := "no revision yet: import a complete bundle (created without --since)"
			if !current.IsZero() {
				have = "it is at " + current.String() + ": create the bundle with --since " + current.String()
			}
			return Revision{}, false, fmt.Errorf("the bundle builds on commit %s, which the local repository of %s lacks (%s)", p, s.ep, have)
		}
	}
	if current != head {
		if st.HasEncodedObject(head) != nil {
			if err := packfile.UpdateObjectStorage(st, br); err != nil {
				return Revision{}, false, fmt.Errorf("reading the git bundle's pack: %w", err)
			}
		}
		if err := s.intact.verify(ctx, st, head); err != nil {
			return Revision{}, false, fmt.Errorf("the git bundle is incomplete: %w", err)
		}
		if !current.IsZero() {
			ok, err := isAncestor(st, current, head)
			if err != nil {
				return Revision{}, false, fmt.Errorf("checking that %s descends from %s: %w", short(head), short(current), err)
			}
			if !ok {
				return Revision{}, false, newError(ErrNotFastForward, nil,
					"the bundle's head %s does not descend from %s, the revision of %s the site already has: importing it would move the site back or sideways (create the bundle from the fleet repo's current branch with --since %s)",
					head, current, s.branch, current)
			}
		}
		if move {
			if err := setTracking(st, s.branch, head); err != nil {
				return Revision{}, false, fmt.Errorf("recording %s: %w", trackingRef(s.branch), err)
			}
		}
		changed = true
	}
	rev, err = s.revision(head)
	return rev, changed, err
}
