package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// The local repository is a bare Git repository (readable with
// `git --git-dir`) holding refs/remotes/origin/<branch> for each branch
// fetched or pushed. Its objects are content-addressed and only ever added,
// so a snapshot of a revision cannot be changed by a later fetch.

// storage opens the local repository, creating it when missing and
// starting over when it is unreadable. Callers hold s.mu.
func (s *Source) storage() (*filesystem.Storage, error) {
	if s.store != nil {
		return s.store, nil
	}
	st, err := openCache(s.dir, s.ep)
	if errors.Is(err, fs.ErrNotExist) {
		st, err = initCache(s.dir, s.ep)
	} else if err != nil {
		s.log.Warn("local repository is unusable; starting a new one", "dir", s.dir, "error", err)
		if rmErr := os.RemoveAll(s.dir); rmErr != nil {
			return nil, fmt.Errorf("removing unusable local repository: %w", rmErr)
		}
		st, err = initCache(s.dir, s.ep)
	}
	if err != nil {
		return nil, err
	}
	s.store = st
	s.intact = intact{}
	s.dirInfo, _ = os.Stat(s.dir)
	return st, nil
}

// newStorage opens the repository at dir, keeping a few pack files open
// (closed by swapCache). go-git's ExclusiveAccess option would save more
// file system calls, but in v5.19 it makes HasEncodedObject miss packed
// objects.
func newStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(32*cache.MiByte),
		filesystem.Options{MaxOpenDescriptors: 8})
}

// openCache opens an existing local repository of ep.
func openCache(dir string, ep Endpoint) (*filesystem.Storage, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	st := newStorage(dir)
	cfg, err := st.Config()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	origin, ok := cfg.Remotes["origin"]
	if !cfg.Core.IsBare || !ok || len(origin.URLs) != 1 {
		return nil, errors.New("not a syncd cache: no bare repository with one origin")
	}
	if origin.URLs[0] != ep.String() {
		return nil, fmt.Errorf("cache holds %s, not %s", origin.URLs[0], ep)
	}
	return st, nil
}

// initCache creates an empty bare repository for ep at dir.
func initCache(dir string, ep Endpoint) (*filesystem.Storage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating local repository: %w", err)
	}
	st := newStorage(dir)
	if err := st.Init(); err != nil {
		return nil, fmt.Errorf("creating local repository: %w", err)
	}
	cfg := config.NewConfig()
	cfg.Core.IsBare = true
	cfg.Remotes["origin"] = &config.RemoteConfig{
		Name:  "origin",
		URLs:  []string{ep.String()},
		Fetch: []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*"},
	}
	if err := st.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("writing local repository config: %w", err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, branchRef(DefaultBranch))
	if err := st.SetReference(head); err != nil {
		return nil, fmt.Errorf("writing local repository HEAD: %w", err)
	}
	return st, nil
}

// tracking reads where branch was last seen; the zero hash when never.
func tracking(st *filesystem.Storage, branch string) (plumbing.Hash, error) {
	ref, err := st.Reference(trackingRef(branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", trackingRef(branch), err)
	}
	return ref.Hash(), nil
}

// setTracking records where branch is on the server.
func setTracking(st *filesystem.Storage, branch string, h plumbing.Hash) error {
	return st.SetReference(plumbing.NewHashReference(trackingRef(branch), h))
}

// intact remembers commits and trees found readable, so that the check
// after an incremental fetch reads only what the fetch added.
type intact map[plumbing.Hash]bool

// maxIntact bounds what intact remembers (about 50 bytes an entry).
const maxIntact = 500_000

// verify checks that the commit h, its tree and every object the tree
// reaches can be read (blobs by their header only), skipping trees already
// found intact, so that a truncated or damaged local repository is found
// before a snapshot of it is served.
func (in intact) verify(ctx context.Context, st *filesystem.Storage, h plumbing.Hash) error {
	if in[h] {
		return nil
	}
	c, err := object.GetCommit(st, h)
	if err != nil {
		return fmt.Errorf("commit %s: %w", h, err)
	}
	walked := map[plumbing.Hash]bool{}
	var walk func(plumbing.Hash) error
	walk = func(th plumbing.Hash) error {
		if in[th] || walked[th] {
			return nil
		}
		walked[th] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := object.GetTree(st, th)
		if err != nil {
			return fmt.Errorf("tree %s: %w", th, err)
		}
		for _, e := range t.Entries {
			switch e.Mode {
			case filemode.Dir:
				if err := walk(e.Hash); err != nil {
					return err
				}
			case filemode.Submodule:
			default:
				if _, err := st.EncodedObjectSize(e.Hash); err != nil {
					return fmt.Errorf("blob %s (%s): %w", e.Hash, e.Name, err)
				}
			}
		}
		return nil
	}
	if err := walk(c.TreeHash); err != nil {
		return err
	}
	if len(in)+len(walked) > maxIntact {
		clear(in)
	}
	for th := range walked {
		in[th] = true
	}
	in[h] = true
	return nil
}

// packCount is the number of pack files, which grows by one per fetch.
func packCount(st *filesystem.Storage) (int, error) {
	packs, err := st.ObjectPacks()
	return len(packs), err
}

// swapCache replaces the local repository with the complete one at fresh.
func (s *Source) swapCache(fresh string) error {
	old := s.dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(s.dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(fresh, s.dir); err != nil {
		return err
	}
	if s.store != nil {
		_ = s.store.Close() // pack files of the old repository
	}
	s.store = nil
	if _, err := s.storage(); err != nil {
		return err
	}
	return os.RemoveAll(old)
}
