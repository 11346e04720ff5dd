package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxSymlinkHops bounds the symlinks followed to resolve one name.
const maxSymlinkHops = 40

// Snapshot is the read-only tree of one commit, read lazily from the local
// repository. Git objects never change, so a Snapshot is immutable: later
// fetches add objects but cannot alter what it shows. It implements fs.FS,
// fs.StatFS, fs.ReadFileFS, fs.ReadDirFS and fs.ReadLinkFS; Open follows
// symlinks only to targets inside the tree and otherwise fails with
// ErrSymlinkEscapes. It is safe for concurrent use.
type Snapshot struct {
	src  *Source
	sha  string
	root plumbing.Hash
	time time.Time
	msg  string

	mu    sync.Mutex // guards st (go-git storage is not goroutine-safe) and trees
	st    *filesystem.Storage
	trees map[plumbing.Hash][]object.TreeEntry
}

var (
	_ fs.StatFS     = (*Snapshot)(nil)
	_ fs.ReadFileFS = (*Snapshot)(nil)
	_ fs.ReadDirFS  = (*Snapshot)(nil)
	_ fs.ReadLinkFS = (*Snapshot)(nil)
)

// snapshotCacheSize bounds the decoded objects one Snapshot keeps.
const snapshotCacheSize = 8 * cache.MiByte

// snapshotOpenPacks bounds the pack files one Snapshot keeps open.
const snapshotOpenPacks = 8

// Snapshot returns the tree of commit sha (full hex), which must have been
// fetched (or committed) by this Source.
func (s *Source) Snapshot(ctx context.Context, sha string) (*Snapshot, error) {
	var sn *Snapshot
	err := s.localCommit(ctx, sha, func(_ *filesystem.Storage, c *object.Commit) error {
		// Its own storage, so that reads never wait for a fetch.
		// Its pack files are kept open (up to snapshotOpenPacks) rather
		// than opened for every object read: reading a snapshot of 2,000
		// files opened a pack file for each (Close closes them).
		sn = newSnapshot(s, c, filesystem.NewStorageWithOptions(osfs.New(s.dir), cache.NewObjectLRU(snapshotCacheSize),
			filesystem.Options{MaxOpenDescriptors: snapshotOpenPacks}))
		return nil
	})
	return sn, err
}

// newSnapshot shows the tree of commit c read from st.
func newSnapshot(s *Source, c *object.Commit, st *filesystem.Storage) *Snapshot {
	return &Snapshot{
		src:   s,
		sha:   c.Hash.String(),
		root:  c.TreeHash,
		time:  c.Committer.When,
		msg:   c.Message,
		st:    st,
		trees: map[plumbing.Hash][]object.TreeEntry{},
	}
}

// parseSHA accepts a full hex commit hash.
func parseSHA(sha string) (plumbing.Hash, error) {
	if len(sha) != 40 || !plumbing.IsHash(sha) {
		return plumbing.ZeroHash, fmt.Errorf("invalid commit hash %q: want 40 hex digits", sha)
	}
	return plumbing.NewHash(sha), nil
}

// Close closes the pack files the snapshot keeps open. A snapshot read
// after Close opens them again.
func (sn *Snapshot) Close() error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	return sn.st.Close()
}

// SHA is the commit the snapshot shows.
func (sn *Snapshot) SHA() string { return sn.sha }

// Message is the full message of the commit the snapshot shows (its
// trailers steer a sync, e.g. Syncd-Allow-Mass-Prune).
func (sn *Snapshot) Message() string { return sn.msg }

// node is one resolved name in the tree.
type node struct {
	name string // base name as asked for
	path string // where it really is, after following symlinks
	mode filemode.FileMode
	hash plumbing.Hash
}

func (n node) isDir() bool { return n.mode == filemode.Dir }

// Open opens name, following symlinks.
func (sn *Snapshot) Open(name string) (fs.File, error) {
	n, err := sn.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := sn.info(n)
	if n.isDir() {
		entries, err := sn.dirEntries(n)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{info: info, entries: entries}, nil
	}
	if n.mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("submodules are not supported")}
	}
	data, err := sn.blob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info.size = int64(len(data))
	return &memFile{info: info, Reader: bytes.NewReader(data)}, nil
}

// ReadFile reads name, following symlinks.
func (sn *Snapshot) ReadFile(name string) ([]byte, error) {
	n, err := sn.lookup("read", name, true)
	if err != nil {
		return nil, err
	}
	if n.isDir() || n.mode == filemode.Submodule {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := sn.blob(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir lists the directory name, sorted by file name.
func (sn *Snapshot) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := sn.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.isDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	entries, err := sn.dirEntries(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return entries, nil
}

// Stat describes name, following symlinks.
func (sn *Snapshot) Stat(name string) (fs.FileInfo, error) {
	n, err := sn.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return sn.sizedInfo(n)
}

// Lstat describes name without following a final symlink.
func (sn *Snapshot) Lstat(name string) (fs.FileInfo, error) {
	n, err := sn.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return sn.sizedInfo(n)
}

// ReadLink returns the target of the symlink name, as stored in Git.
func (sn *Snapshot) ReadLink(name string) (string, error) {
	n, err := sn.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("not a symlink")}
	}
	data, err := sn.blob(n.hash)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(data), nil
}

// lookup resolves name. Symlinks in directories on the way are always
// followed, a final one only when follow is set; a link whose target is
// absolute or leaves the tree fails with ErrSymlinkEscapes.
func (sn *Snapshot) lookup(op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	fail := func(err error) (node, error) { return node{}, &fs.PathError{Op: op, Path: name, Err: err} }
	rootNode := node{name: ".", path: ".", mode: filemode.Dir, hash: sn.root}
	var parts []string
	if name != "." {
		parts = strings.Split(name, "/")
	}
	cur, hops := rootNode, 0
	for i := 0; i < len(parts); i++ {
		if !cur.isDir() {
			return fail(fs.ErrNotExist)
		}
		entries, err := sn.tree(cur.hash)
		if err != nil {
			return fail(err)
		}
		e, ok := findEntry(entries, parts[i])
		if !ok {
			return fail(fs.ErrNotExist)
		}
		next := node{name: e.Name, path: path.Join(cur.path, e.Name), mode: e.Mode, hash: e.Hash}
		last := i == len(parts)-1
		if next.mode != filemode.Symlink || (last && !follow) {
			cur = next
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return fail(errors.New("too many levels of symbolic links"))
		}
		data, err := sn.blob(next.hash)
		if err != nil {
			return fail(err)
		}
		target, err := linkTarget(next.path, string(data))
		if err != nil {
			return fail(err)
		}
		// Start again from the root with the target and what remains.
		rest := parts[i+1:]
		parts = nil
		if target != "." {
			parts = strings.Split(target, "/")
		}
		parts = append(parts, rest...)
		cur, i = rootNode, -1
	}
	cur.name = path.Base(name)
	return cur, nil
}

// linkTarget resolves the target of the symlink at link to a clean path in
// the tree, refusing absolute targets and targets outside the tree.
func linkTarget(link, target string) (string, error) {
	resolved := path.Join(path.Dir(link), target)
	if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", newError(ErrSymlinkEscapes, nil, "symlink %s points to %s, outside the repository", link, target)
	}
	return resolved, nil
}

// findEntry finds name in a tree's entries (sorted in Git order, which is
// not plain name order, so this scans).
func findEntry(entries []object.TreeEntry, name string) (object.TreeEntry, bool) {
	for _, e := range entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// tree returns the decoded entries of tree h.
func (sn *Snapshot) tree(h plumbing.Hash) ([]object.TreeEntry, error) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if entries, ok := sn.trees[h]; ok {
		return entries, nil
	}
	var entries []object.TreeEntry
	err := sn.read(func() error {
		t, err := object.GetTree(sn.st, h)
		if err != nil {
			return err
		}
		entries = t.Entries
		return nil
	})
	if err != nil {
		return nil, err
	}
	sn.trees[h] = entries
	return entries, nil
}

// blob reads the content of blob h.
func (sn *Snapshot) blob(h plumbing.Hash) ([]byte, error) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	var data []byte
	err := sn.read(func() error {
		obj, err := sn.st.EncodedObject(plumbing.BlobObject, h)
		if err != nil {
			return err
		}
		r, err := obj.Reader()
		if err != nil {
			return err
		}
		defer func() { _ = r.Close() }()
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}

// blobSize reads the size of blob h from its header.
func (sn *Snapshot) blobSize(h plumbing.Hash) (int64, error) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	var size int64
	err := sn.read(func() (err error) {
		size, err = sn.st.EncodedObjectSize(h)
		return err
	})
	return size, err
}

// read runs fn against the storage, retrying once after re-reading the
// pack index (a re-clone may have replaced the pack files); a second
// failure marks the local repository damaged so the next Fetch re-clones.
// Callers hold sn.mu.
func (sn *Snapshot) read(fn func() error) error {
	err := fn()
	if err == nil {
		return nil
	}
	sn.st.Reindex()
	if err = fn(); err != nil {
		if sn.src == nil { // a Local checkout: nothing to re-clone
			return fmt.Errorf("reading commit %s: %w", sn.sha, err)
		}
		sn.src.suspect.Store(true)
		sn.src.log.Warn("reading the local repository failed; it will be re-cloned on the next fetch", "commit", sn.sha, "error", err)
		return fmt.Errorf("reading commit %s from the local repository: %w", sn.sha, err)
	}
	return nil
}

// dirEntries lists directory n sorted by name.
func (sn *Snapshot) dirEntries(n node) ([]fs.DirEntry, error) {
	entries, err := sn.tree(n.hash)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, &dirEntry{sn: sn, n: node{name: e.Name, path: path.Join(n.path, e.Name), mode: e.Mode, hash: e.Hash}})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// info describes n without its size.
func (sn *Snapshot) info(n node) *fileInfo {
	return &fileInfo{name: n.name, mode: fsMode(n.mode), mtime: sn.time}
}

// sizedInfo describes n with its size, which costs reading a header.
func (sn *Snapshot) sizedInfo(n node) (fs.FileInfo, error) {
	info := sn.info(n)
	if n.isDir() || n.mode == filemode.Submodule {
		return info, nil
	}
	size, err := sn.blobSize(n.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: n.path, Err: err}
	}
	info.size = size
	return info, nil
}
