package gitsource

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// treeBuilder writes the trees and blobs of a WorkTree's edits on top of a
// base tree, rewriting only the directories on the edited paths, so a
// commit costs the same in a repository of 20 files or 20,000.
type treeBuilder struct {
	st storer.EncodedObjectStorer
	// written lists the objects a push must send: every blob and tree the
	// edits produced (a few may already be on the server; sending them
	// again is harmless).
	written []plumbing.Hash
}

// build returns the root tree of base (the zero hash for an empty tree) with
// edits applied.
func (b *treeBuilder) build(base plumbing.Hash, edits map[string]*edit) (plumbing.Hash, error) {
	h, empty, err := b.dir(base, "", edits)
	if err != nil || !empty {
		return h, err
	}
	// Every file was removed: a commit still needs a (empty) tree.
	return b.writeTree(nil)
}

// dir applies edits (keyed by path relative to this directory) to the tree
// base of directory at. It reports empty when nothing is left in it.
func (b *treeBuilder) dir(base plumbing.Hash, at string, edits map[string]*edit) (plumbing.Hash, bool, error) {
	entries := map[string]object.TreeEntry{}
	if !base.IsZero() {
		t, err := object.GetTree(b.st, base)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("reading tree of %q: %w", at, err)
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	here := map[string]*edit{}
	below := map[string]map[string]*edit{}
	for p, e := range edits {
		if first, rest, ok := strings.Cut(p, "/"); ok {
			if below[first] == nil {
				below[first] = map[string]*edit{}
			}
			below[first][rest] = e
		} else {
			here[p] = e
		}
	}
	for name, e := range here {
		if old, ok := entries[name]; ok && old.Mode == filemode.Dir {
			return plumbing.ZeroHash, false, fmt.Errorf("%s is a directory", path.Join(at, name))
		}
		if e.removed {
			delete(entries, name)
			continue
		}
		h, err := b.writeBlob(e.data)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		entries[name] = object.TreeEntry{Name: name, Mode: e.mode, Hash: h}
	}
	for name, sub := range below {
		var subBase plumbing.Hash
		if old, ok := entries[name]; ok {
			if old.Mode != filemode.Dir {
				return plumbing.ZeroHash, false, fmt.Errorf("%s is a file", path.Join(at, name))
			}
			subBase = old.Hash
		}
		h, empty, err := b.dir(subBase, path.Join(at, name), sub)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if empty {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	h, err := b.writeTree(list)
	return h, false, err
}

// writeTree stores a tree, sorting its entries the way Git does: by name,
// with a directory compared as if its name ended in "/".
func (b *treeBuilder) writeTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	sortKey := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(x, y object.TreeEntry) int { return strings.Compare(sortKey(x), sortKey(y)) })
	obj := b.st.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding tree: %w", err)
	}
	return b.store(obj)
}

// writeBlob stores a file's content.
func (b *treeBuilder) writeBlob(data []byte) (plumbing.Hash, error) {
	obj := b.st.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return b.store(obj)
}

// store writes obj unless the repository has it, and records it for the push.
func (b *treeBuilder) store(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	b.written = append(b.written, h)
	if b.st.HasEncodedObject(h) == nil {
		return h, nil
	}
	if _, err := b.st.SetEncodedObject(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing object: %w", err)
	}
	return h, nil
}
