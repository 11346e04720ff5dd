package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Checkout writes the tree of commit sha into dir, which must not exist:
// files with their modes, and symlinks whose targets lie inside the tree (a
// symlink pointing outside fails the checkout with ErrSymlinkEscapes, naming
// the link and its target). The tree is written next to dir and renamed
// into place, so dir appears complete or not at all. Submodules are skipped.
//
// Renderers can read a Snapshot directly instead; Checkout is for tools
// that need a directory on disk.
func (s *Source) Checkout(ctx context.Context, sha, dir string) error {
	sn, err := s.Snapshot(ctx, sha)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("checkout: %s already exists", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checkout: %w", err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	if err := sn.writeTree(ctx, sn.root, ".", tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("checkout of %s: %w", sha, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("checkout: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("checkout: %w", err)
	}
	return nil
}

// writeTree writes tree h (at repo path rel) into the directory dst.
func (sn *Snapshot) writeTree(ctx context.Context, h plumbing.Hash, rel, dst string) error {
	entries, err := sn.tree(h)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := path.Join(rel, e.Name)
		target := filepath.Join(dst, e.Name)
		switch e.Mode {
		case filemode.Dir:
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
			if err := sn.writeTree(ctx, e.Hash, name, target); err != nil {
				return err
			}
		case filemode.Symlink:
			if err := sn.writeSymlink(name, e.Hash, target); err != nil {
				return err
			}
		case filemode.Submodule:
			sn.src.log.Warn("checkout skips a submodule", "path", name)
		default:
			data, err := sn.blob(e.Hash)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := os.WriteFile(target, data, fsMode(e.Mode).Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSymlink creates the symlink at repo path name after checking that
// it, and any link it leads through, stays inside the tree. A link to a
// path that does not exist inside the tree is written as is.
func (sn *Snapshot) writeSymlink(name string, h plumbing.Hash, dst string) error {
	data, err := sn.blob(h)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := sn.lookup("checkout", name, true); err != nil && !errors.Is(err, fs.ErrNotExist) {
		var pe *fs.PathError
		if errors.Is(err, ErrSymlinkEscapes) && errors.As(err, &pe) {
			return pe.Err // already names the link and its target
		}
		return err
	}
	return os.Symlink(string(data), dst)
}
