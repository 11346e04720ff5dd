package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// FileRevision is one version of a file in a branch's history.
type FileRevision struct {
	// Commit is the commit that gave the file this content.
	Commit string
	// Time is that commit's committer time.
	Time time.Time
	// Data is the file's content.
	Data []byte
}

// FileHistory returns the versions of the file name along the first-parent
// history of commit sha, newest first: one entry per commit that gave it new
// content, the first being the version at sha. It walks at most max commits
// (0: the whole history; a bounded walk dates its oldest version by the
// oldest commit walked) and stops at the commit that created the file. A
// file missing at sha yields an empty history. Symlinks are not followed:
// the history is of the path itself.
func (s *Source) FileHistory(ctx context.Context, sha, name string, max int) ([]FileRevision, error) {
	h, err := parseSHA(sha)
	if err != nil {
		return nil, err
	}
	name = path.Clean(strings.TrimPrefix(name, "/"))
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.storage()
	if err != nil {
		return nil, err
	}
	var (
		out      []FileRevision
		prevBlob = plumbing.ZeroHash // blob of the newer commit already seen
		newer    *object.Commit
		started  bool
	)
	for n := 0; max == 0 || n < max; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := object.GetCommit(st, h)
		if err != nil {
			return nil, fmt.Errorf("history of %s: reading commit %s: %w", name, h, err)
		}
		blob, err := blobAt(st, c.TreeHash, name)
		if err != nil {
			return nil, fmt.Errorf("history of %s at %s: %w", name, c.Hash, err)
		}
		if !started {
			started = true
			if blob.IsZero() {
				return nil, nil
			}
		} else if blob != prevBlob {
			// The newer commit changed the file: it starts the newer version.
			if err := appendRevision(st, &out, newer, prevBlob); err != nil {
				return nil, err
			}
		}
		prevBlob, newer = blob, c
		if blob.IsZero() || len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	if !prevBlob.IsZero() {
		// The oldest commit walked holds a version whose start we saw (a
		// root commit) or did not reach (max): either way it is the oldest
		// version known.
		if err := appendRevision(st, &out, newer, prevBlob); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendRevision adds the version blob of the file introduced by commit c.
func appendRevision(st *filesystem.Storage, out *[]FileRevision, c *object.Commit, blob plumbing.Hash) error {
	rev := FileRevision{Commit: c.Hash.String(), Time: c.Committer.When}
	if !blob.IsZero() {
		data, err := readBlob(st, blob)
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", blob, err)
		}
		rev.Data = data
	}
	*out = append(*out, rev)
	return nil
}

// blobAt returns the blob of the regular file or symlink at name in tree
// root, or the zero hash when there is none.
func blobAt(st *filesystem.Storage, root plumbing.Hash, name string) (plumbing.Hash, error) {
	t, err := object.GetTree(st, root)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	e, err := t.FindEntry(name)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
		return plumbing.ZeroHash, nil
	}
	return e.Hash, nil
}

// readBlob reads the content of blob h.
func readBlob(st *filesystem.Storage, h plumbing.Hash) ([]byte, error) {
	obj, err := st.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return io.ReadAll(r)
}
