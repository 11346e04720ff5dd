package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Cache remembers renders by what they read, so that rendering the same
// release for many sites, or at two revisions of the fleet repo that differ
// elsewhere, runs kustomize once. The key of a request is a hash of the
// product, version and namespace and of the content of every directory and
// file its kustomizations reach (the release, the site's Component, and any
// base they reference); the site name is not part of it: a cached render is
// relabelled for each site. A Cache is safe for concurrent use and may be
// shared by Repos of different revisions.
type Cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	builds  int
}

type cacheEntry struct {
	objs []*unstructured.Unstructured
	srcs Sources
	err  error
	// used is set when a RenderAll since the last Trim asked for it.
	used bool
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{entries: map[string]cacheEntry{}} }

// Builds is the number of kustomize builds the cache has run (its misses).
func (c *Cache) Builds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.builds
}

// Len is the number of renders the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// RenderAll renders reqs from repo like Repo.RenderAll, running kustomize
// only for requests whose key the cache has not seen. Each result holds its
// own copy of the objects. Calls for the same repo must not run
// concurrently (rendering writes to the repo's in-memory file system).
func (c *Cache) RenderAll(ctx context.Context, repo *Repo, reqs []Request) []Result {
	results := make([]Result, len(reqs))
	keys := make([]string, len(reqs))
	var (
		misses    []Request
		missIndex = map[string]bool{}
	)
	c.mu.Lock()
	for i, req := range reqs {
		results[i].Request = req
		key, err := repo.key(req)
		if err != nil {
			// The render fails the same way; it is cheap and not cached.
			misses = append(misses, req)
			continue
		}
		keys[i] = key
		if e, ok := c.entries[key]; ok {
			e.used = true
			c.entries[key] = e
		} else if !missIndex[key] {
			missIndex[key] = true
			misses = append(misses, req)
		}
	}
	c.mu.Unlock()

	built := repo.RenderAll(ctx, misses)
	c.mu.Lock()
	c.builds += len(built)
	byRequest := map[Request]Result{}
	for _, res := range built {
		byRequest[res.Request] = res
		if key, err := repo.key(res.Request); err == nil && ctx.Err() == nil {
			c.entries[key] = cacheEntry{objs: res.Objects, srcs: res.Sources, err: res.Err, used: true}
		}
	}
	for i, req := range reqs {
		if res, ok := byRequest[req]; ok && keys[i] == "" {
			results[i] = res
			continue
		}
		e, ok := c.entries[keys[i]]
		if !ok {
			results[i].Err = fmt.Errorf("rendering %s %s: %w", req.Product, req.Version, ctx.Err())
			continue
		}
		results[i].Objects, results[i].Sources, results[i].Err = relabel(e.objs, req.Site), e.srcs, e.err
	}
	c.mu.Unlock()
	return results
}

// Trim drops the renders no RenderAll asked for since the last Trim: a
// long-running caller that trims after each revision keeps the renders of
// its latest revision only.
func (c *Cache) Trim() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.entries {
		if !e.used {
			delete(c.entries, key)
			continue
		}
		e.used = false
		c.entries[key] = e
	}
}

// relabel copies objs with the site label set to site.
func relabel(objs []*unstructured.Unstructured, site string) []*unstructured.Unstructured {
	if objs == nil {
		return nil
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		c := o.DeepCopy()
		labels := c.GetLabels()
		labels[LabelSite] = site
		c.SetLabels(labels)
		out[i] = c
	}
	return out
}

// key identifies what rendering req reads. It fails when the
// kustomizations cannot be walked (the render then fails too).
func (r *Repo) key(req Request) (string, error) {
	seen := map[string]bool{}
	release := abs(path.Clean(req.ReleaseDir))
	if !r.fs.IsDir(release) {
		return "", fmt.Errorf("release directory %s does not exist", req.ReleaseDir)
	}
	if err := r.checkLocal(release, seen); err != nil {
		return "", err
	}
	if req.ComponentDir != "" {
		if err := r.checkLocal(abs(path.Clean(req.ComponentDir)), seen); err != nil {
			return "", err
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "syncd-render-v1\x00%s\x00%s\x00%s\x00%t\x00", req.Product, req.Version, req.Namespace, req.ComponentDir != "")
	for _, p := range outermost(seen) {
		sum, err := r.contentHash(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", p, sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// outermost returns the paths of set that are not below another one, sorted.
func outermost(set map[string]bool) []string {
	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var out []string
	for _, p := range paths {
		if n := len(out); n > 0 && (p == out[n-1] || strings.HasPrefix(p, out[n-1]+"/")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// contentHash hashes the file p, or every file below the directory p with
// its relative path.
func (r *Repo) contentHash(p string) (string, error) {
	r.hashMu.Lock()
	defer r.hashMu.Unlock()
	if sum, ok := r.hashes[p]; ok {
		return sum, nil
	}
	h := sha256.New()
	err := r.fs.Walk(p, func(name string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		data, err := r.fs.ReadFile(name)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(p, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", repoPath(p), err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if r.hashes == nil {
		r.hashes = map[string]string{}
	}
	r.hashes[p] = sum
	return sum, nil
}
