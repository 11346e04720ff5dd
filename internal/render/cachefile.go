package render

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cacheFileFormat names the layout of a saved Cache; a file of another
// format, or written by another syncd version (whose kustomize may render
// differently), is not used.
const cacheFileFormat = "syncd-render-cache-v1"

type cacheFile struct {
	Format  string           `json:"format"`
	Version string           `json:"version"`
	Texts   []string         `json:"texts"`
	Entries []cacheFileEntry `json:"entries"`
}

type cacheFileEntry struct {
	Key     string                     `json:"key"`
	Objects []json.RawMessage          `json:"objects"`
	Sources map[string]cacheFileSource `json:"sources,omitempty"`
}

type cacheFileSource struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Text  int    `json:"text"` // index into cacheFile.Texts
	Index int    `json:"index"`
}

// Save writes the renders that succeeded to w, for LoadCache in a later
// process (`syncd sync --once` renders nothing that did not change since the
// last run). version is the writer's syncd version.
func (c *Cache) Save(w io.Writer, version string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := cacheFile{Format: cacheFileFormat, Version: version}
	texts := map[string]int{}
	for _, key := range slices.Sorted(maps.Keys(c.entries)) {
		e := c.entries[key]
		if e.err != nil {
			continue
		}
		fe := cacheFileEntry{Key: key, Objects: make([]json.RawMessage, len(e.objs)), Sources: map[string]cacheFileSource{}}
		for i, o := range e.objs {
			data, err := o.MarshalJSON()
			if err != nil {
				return fmt.Errorf("saving the render cache: %w", err)
			}
			fe.Objects[i] = data
		}
		for k, src := range e.srcs {
			if src.text == "" {
				continue // only a parsed node: its lines are not saved
			}
			t, ok := texts[src.text]
			if !ok {
				t = len(f.Texts)
				texts[src.text] = t
				f.Texts = append(f.Texts, src.text)
			}
			fe.Sources[k] = cacheFileSource{File: src.File, Line: src.Line, Text: t, Index: src.index}
		}
		f.Entries = append(f.Entries, fe)
	}
	if err := json.NewEncoder(w).Encode(&f); err != nil {
		return fmt.Errorf("saving the render cache: %w", err)
	}
	return nil
}

// LoadCache reads a Cache that Save wrote with the same version. A file of
// another format or version gives an empty Cache; a file that does not
// decode is an error.
func LoadCache(r io.Reader, version string) (*Cache, error) {
	var f cacheFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("reading the render cache: %w", err)
	}
	c := NewCache()
	if f.Format != cacheFileFormat || f.Version != version {
		return c, nil
	}
	for _, fe := range f.Entries {
		objs := make([]*unstructured.Unstructured, len(fe.Objects))
		for i, data := range fe.Objects {
			// As the render does: numbers come back as int64 or float64.
			objs[i] = &unstructured.Unstructured{}
			if err := objs[i].UnmarshalJSON(data); err != nil {
				return nil, fmt.Errorf("reading the render cache: entry %s: %w", fe.Key, err)
			}
		}
		srcs := make(Sources, len(fe.Sources))
		for k, s := range fe.Sources {
			if s.Text < 0 || s.Text >= len(f.Texts) {
				return nil, fmt.Errorf("reading the render cache: entry %s: source %s names text %d of %d", fe.Key, k, s.Text, len(f.Texts))
			}
			srcs[k] = Source{File: s.File, Line: s.Line, text: f.Texts[s.Text], index: s.Index}
		}
		c.entries[fe.Key] = cacheEntry{objs: objs, srcs: srcs}
	}
	return c, nil
}
