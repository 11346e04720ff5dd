// Package render builds the Kubernetes objects of one product release for one
// site with kustomize (krusty), from an in-memory copy of a fleet repo
// snapshot: plugins off, no remote bases, and nothing outside the repo
// reachable, because nothing outside it is in the file system kustomize sees.
package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// maxFileSize bounds one file copied from the repo, so a stray artifact cannot
// exhaust memory.
const maxFileSize = 16 << 20

// Repo is an immutable in-memory copy of a fleet repo snapshot that products
// are rendered from.
type Repo struct {
	fs filesys.FileSystem
	// bad are the files left out of fs, by repo-relative path: a symlink
	// that escapes the repo or a file over the size limit. A render that
	// would read one fails with its error; the other renders are not
	// concerned.
	bad map[string]error

	hashMu sync.Mutex
	hashes map[string]string // content hash by absolute path, for Cache
}

// LoadRepo copies every file of fsys (a repo checkout: the .git directory is
// skipped) into memory. A symlink is followed only when its target lies inside
// the repo. A symlink that escapes it (ErrSymlinkEscapes) and a file over the
// size limit are left out: rendering a release or component that holds or
// reads one fails with an error naming the file, and only that render.
func LoadRepo(fsys fs.FS) (*Repo, error) {
	mem := filesys.MakeFsInMemory()
	bad := map[string]error{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name == ".git" {
				return fs.SkipDir
			}
			return mem.MkdirAll(abs(name))
		}
		var cerr error
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			cerr = copySymlink(fsys, mem, name)
		case d.Type().IsRegular():
			cerr = copyFile(fsys, mem, name, name)
		}
		if errors.Is(cerr, ErrSymlinkEscapes) || errors.Is(cerr, errTooLarge) {
			bad[name] = cerr
			return nil
		}
		return cerr
	})
	if err != nil {
		return nil, fmt.Errorf("loading repo for rendering: %w", err)
	}
	return &Repo{fs: mem, bad: bad}, nil
}

// badFileUnder returns the error of a file left out of the repo that lies in
// dir (an absolute in-memory path) or is among read, or nil.
func (r *Repo) badFileUnder(dir string, read map[string]bool) error {
	prefix := repoPath(dir) + "/"
	var names []string
	for name := range r.bad {
		if strings.HasPrefix(name, prefix) || read[abs(name)] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return r.bad[names[0]]
}

// errTooLarge reports a file over maxFileSize.
var errTooLarge = errors.New("larger than the size limit")

// abs maps a repo-relative name to its absolute path in the in-memory fs.
func abs(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

func copyFile(fsys fs.FS, mem filesys.FileSystem, src, dst string) error {
	info, err := fs.Stat(fsys, src)
	if err != nil {
		return err
	}
	if info.Size() > maxFileSize {
		return fmt.Errorf("%s: file is %d bytes, %w of %d bytes", src, info.Size(), errTooLarge, maxFileSize)
	}
	data, err := fs.ReadFile(fsys, src)
	if err != nil {
		return err
	}
	return mem.WriteFile(abs(dst), data)
}

// copySymlink copies what a symlink points to when that lies inside the repo.
func copySymlink(fsys fs.FS, mem filesys.FileSystem, name string) error {
	target, err := resolveLink(fsys, name)
	if err != nil {
		return err
	}
	info, err := fs.Stat(fsys, target)
	if err != nil {
		return fmt.Errorf("%s: symlink target %s: %w", name, target, err)
	}
	if !info.IsDir() {
		return copyFile(fsys, mem, target, name)
	}
	return fs.WalkDir(fsys, target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := path.Join(name, p[len(target):])
		switch {
		case d.IsDir():
			return mem.MkdirAll(abs(dst))
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: nested symlink inside the symlinked directory %s is not supported", p, name)
		case d.Type().IsRegular():
			return copyFile(fsys, mem, p, dst)
		}
		return nil
	})
}

// ErrSymlinkEscapes reports a symlink whose target is outside the repo.
var ErrSymlinkEscapes = errors.New("symlink points outside the repo")

// maxSymlinkHops bounds the links followed to resolve one path, as the
// kernel's ELOOP does.
const maxSymlinkHops = 40

// resolveLink follows the symlink name (and any chain of links) and returns
// the repo-relative target, or ErrSymlinkEscapes. The path is resolved one
// component at a time, so a link through a directory link is checked at
// every hop: a target whose text stays in the repo but that passes through a
// link pointing outside it escapes too.
func resolveLink(fsys fs.FS, name string) (string, error) {
	parts := strings.Split(name, "/")
	done := "." // the resolved prefix: inside the repo, no link in it
	for hops := 0; len(parts) > 0; {
		cur := path.Join(done, parts[0])
		parts = parts[1:]
		if cur == ".." || strings.HasPrefix(cur, "../") {
			return "", fmt.Errorf("%s -> %s: %w", name, cur, ErrSymlinkEscapes)
		}
		info, err := fs.Lstat(fsys, cur)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			done = cur
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return "", fmt.Errorf("%s: too many levels of symlinks", name)
		}
		target, err := fs.ReadLink(fsys, cur)
		if err != nil {
			return "", fmt.Errorf("%s: reading symlink %s: %w", name, cur, err)
		}
		next := path.Join(done, target)
		switch {
		case target == "":
			return "", fmt.Errorf("%s: symlink %s has an empty target", name, cur)
		case path.IsAbs(target), next == "..", strings.HasPrefix(next, "../"):
			return "", fmt.Errorf("%s -> %s: %w", cur, target, ErrSymlinkEscapes)
		}
		// Start again from the root with the target and what remains.
		parts = append(strings.Split(next, "/"), parts...)
		done = "."
	}
	return done, nil
}
