package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// WorkTree is the content of a branch that a CommitRequest's Change edits.
// Edits stay in memory until the commit is built from them. A WorkTree is
// also an fs.FS (with ReadFile, ReadDir and Stat) over the edited content, so
// a change can be validated, for example by loading the fleet from it.
// Symlinks are resolved against the content before the edits.
type WorkTree struct {
	base  *Snapshot // nil when the branch has no commit yet
	edits map[string]*edit
}

// edit is a pending change of one file.
type edit struct {
	data    []byte
	mode    filemode.FileMode
	removed bool
}

var (
	_ fs.StatFS     = (*WorkTree)(nil)
	_ fs.ReadFileFS = (*WorkTree)(nil)
	_ fs.ReadDirFS  = (*WorkTree)(nil)
)

func newWorkTree(base *Snapshot) *WorkTree {
	return &WorkTree{base: base, edits: map[string]*edit{}}
}

// ReadFile returns the current content of the file name.
func (w *WorkTree) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	if e, ok := w.edits[name]; ok {
		if e.removed {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
		}
		return bytes.Clone(e.data), nil
	}
	if w.base == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return w.base.ReadFile(name)
}

// WriteFile creates or replaces the file name (slash-separated, relative to
// the repository root), creating its directories. An executable file stays
// executable.
func (w *WorkTree) WriteFile(name string, data []byte) error {
	if err := checkWritable(name); err != nil {
		return err
	}
	if exists, dir := w.kind(name); exists && dir {
		return &fs.PathError{Op: "write", Path: name, Err: errors.New("is a directory")}
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if exists, dir := w.kind(p); exists && !dir {
			return &fs.PathError{Op: "write", Path: name, Err: fmt.Errorf("%s is a file", p)}
		}
	}
	mode := filemode.Regular
	if w.base != nil {
		if info, err := w.base.Lstat(name); err == nil && info.Mode().Type() == 0 && info.Mode()&0o100 != 0 {
			mode = filemode.Executable
		}
	}
	w.edits[name] = &edit{data: bytes.Clone(data), mode: mode}
	return nil
}

// Remove deletes the file (or symlink) name.
func (w *WorkTree) Remove(name string) error {
	if err := checkWritable(name); err != nil {
		return err
	}
	exists, dir := w.kind(name)
	switch {
	case !exists:
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	case dir:
		return &fs.PathError{Op: "remove", Path: name, Err: errors.New("is a directory")}
	}
	w.edits[name] = &edit{removed: true}
	return nil
}

// checkWritable refuses names outside the tree and inside .git.
func checkWritable(name string) error {
	if !fs.ValidPath(name) || name == "." {
		return &fs.PathError{Op: "write", Path: name, Err: fs.ErrInvalid}
	}
	if slices.Contains(strings.Split(name, "/"), ".git") {
		return &fs.PathError{Op: "write", Path: name, Err: errors.New("paths inside .git cannot be committed")}
	}
	return nil
}

// kind reports whether name exists (as edited) and whether it is a
// directory. A directory whose files were all removed still exists.
func (w *WorkTree) kind(name string) (exists, dir bool) {
	if name == "." {
		return true, true
	}
	if e, ok := w.edits[name]; ok {
		return !e.removed, false
	}
	prefix := name + "/"
	for k, e := range w.edits {
		if !e.removed && strings.HasPrefix(k, prefix) {
			return true, true
		}
	}
	if w.base == nil {
		return false, false
	}
	info, err := w.base.Lstat(name)
	if err != nil {
		return false, false
	}
	return true, info.IsDir()
}

// Open opens name for reading.
func (w *WorkTree) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if e, ok := w.edits[name]; ok && !e.removed {
		return &memFile{info: editInfo(name, e), Reader: bytes.NewReader(e.data)}, nil
	}
	if exists, dir := w.kind(name); exists && dir {
		entries, err := w.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: &fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o755}, entries: entries}, nil
	}
	if _, ok := w.edits[name]; ok || w.base == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.base.Open(name)
}

// Stat describes name.
func (w *WorkTree) Stat(name string) (fs.FileInfo, error) {
	f, err := w.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return f.Stat()
}

// ReadDir lists the directory name, as edited, sorted by name.
func (w *WorkTree) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	exists, dir := w.kind(name)
	if !exists {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	byName := map[string]fs.DirEntry{}
	if w.base != nil {
		if entries, err := w.base.ReadDir(name); err == nil {
			for _, e := range entries {
				byName[e.Name()] = e
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	for k, e := range w.edits {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		child, deeper := rest, false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			child, deeper = rest[:i], true
		}
		switch {
		case deeper && !e.removed:
			if d, ok := byName[child]; !ok || !d.IsDir() {
				byName[child] = fs.FileInfoToDirEntry(&fileInfo{name: child, mode: fs.ModeDir | 0o755})
			}
		case !deeper && e.removed:
			delete(byName, child)
		case !deeper:
			byName[child] = fs.FileInfoToDirEntry(editInfo(child, e))
		}
	}
	out := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// editInfo describes an edited file.
func editInfo(name string, e *edit) *fileInfo {
	return &fileInfo{name: path.Base(name), size: int64(len(e.data)), mode: fsMode(e.mode), mtime: time.Time{}}
}
