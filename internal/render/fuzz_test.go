package render

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// outsideMarker is the content of a file next to the repo, never in it.
const outsideMarker = "OUTSIDE-THE-REPO-a9f3"

// readGuard records every file kustomize (or syncd) read successfully from
// the render's file system that is not a file of the repo (or a synthetic
// kustomization); probing names that do not exist reads nothing.
type readGuard struct {
	filesys.FileSystem
	files map[string]bool

	mu      sync.Mutex
	strange []string
}

func (g *readGuard) check(p string) {
	p = path.Clean(p)
	if g.files[p] || strings.HasPrefix(p, "/.syncd-render/") {
		return
	}
	g.mu.Lock()
	g.strange = append(g.strange, p)
	g.mu.Unlock()
}

func (g *readGuard) ReadFile(p string) ([]byte, error) {
	data, err := g.FileSystem.ReadFile(p)
	if err == nil {
		g.check(p)
	}
	return data, err
}

func (g *readGuard) Open(p string) (filesys.File, error) {
	f, err := g.FileSystem.Open(p)
	if err == nil && !g.FileSystem.IsDir(p) {
		g.check(p)
	}
	return f, err
}

// FuzzKustomization feeds arbitrary kustomization files through the checks
// and the render: whatever the input, it must not panic, must read no file
// that is not in the repo, and must never render the content of a file
// lying next to the repo.
func FuzzKustomization(f *testing.F) {
	for _, seed := range []string{
		"resources: [deploy.yaml]\n",
		"resources: [https://example.com/x.yaml]\n",
		"resources: [../../../../etc]\n",
		"components: [../c]\nresources: [deploy.yaml]\n",
		"configMapGenerator:\n- name: c\n  files: [a=deploy.yaml]\n",
		"configMapGenerator:\n- name: c\n  files: [a=../../../../../secret.txt]\n",
		"configMapGenerator:\n- name: c\n  envs: [/secret.txt]\n",
		"secretGenerator:\n- name: c\n  files: [../../../../../secret.txt]\n",
		"patches:\n- path: deploy.yaml\n",
		"patches:\n- path: ../../../../../secret.txt\n",
		"helmCharts: [{name: x}]\n",
		"resources: [.]\n",
		"bases: [/abs]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, kustomization string) {
		all := fstest.MapFS{
			"secret.txt": file(outsideMarker + "=1\n"),
			"repo/products/p/releases/1.0.0/kustomization.yaml": file(kustomization),
			"repo/products/p/releases/1.0.0/deploy.yaml":        file(deployment),
			"repo/products/p/releases/c/kustomization.yaml":     file("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"),
		}
		fsys, err := fs.Sub(all, "repo")
		if err != nil {
			t.Fatal(err)
		}
		repo, err := LoadRepo(fsys)
		if err != nil {
			t.Fatal(err)
		}
		guard := &readGuard{FileSystem: repo.fs, files: map[string]bool{}}
		for name := range all {
			if rel, ok := strings.CutPrefix(name, "repo/"); ok {
				guard.files[abs(rel)] = true
			}
		}
		repo.fs = guard
		objs, _ := repo.Render(context.Background(), Request{Site: "s", Product: "p", Version: "1.0.0", ReleaseDir: "products/p/releases/1.0.0"})
		if len(guard.strange) > 0 {
			t.Fatalf("the render read files that are not in the repo: %v", guard.strange)
		}
		for _, o := range objs {
			data, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), outsideMarker) {
				t.Fatalf("a file outside the repo was rendered into %s/%s", o.GetKind(), o.GetName())
			}
		}
	})
}

// FuzzResolveLink follows arbitrary symlink targets (a chain of two links):
// the result is an error, or a path inside the repo that is not a link and
// that the kernel, too, resolves to a file inside the repo.
func FuzzResolveLink(f *testing.F) {
	for _, seed := range [][2]string{
		{"b", "real.yaml"},
		{"../a", "x"},
		{"/etc/passwd", "x"},
		{"dir/../b", "../real.yaml"},
		{"b", "a"},
		{"b", "../../real.yaml"},
		{"./b", "dir/real.yaml"},
		{"b", ""},
		{"b/passwd", "/etc"}, // through a directory link that leaves the repo
		{"a/a", "x"},         // a loop through its own directory
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, first, second string) {
		// Real symlinks in a directory: the kernel bounds link loops in
		// intermediate components (fstest.MapFS follows "a -> a/a" forever).
		dir := t.TempDir()
		for name, data := range map[string]string{"real.yaml": "kind: X\n", "dir/real.yaml": "kind: Y\n"} {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, target := range map[string]string{"dir/a": first, "dir/b": second} {
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Skipf("not a possible symlink target: %v", err)
			}
		}
		fsys := os.DirFS(dir)
		got, err := resolveLink(fsys, "dir/a")
		if err != nil {
			return
		}
		if !fs.ValidPath(got) || got == ".." || strings.HasPrefix(got, "../") {
			t.Fatalf("resolveLink = %q: not a path inside the repo", got)
		}
		info, err := fs.Lstat(fsys, got)
		if err != nil || info.Mode()&fs.ModeSymlink != 0 {
			t.Fatalf("resolveLink = %q: %v, mode %v; want an existing non-link", got, err, info)
		}
		root, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		if real, err := filepath.EvalSymlinks(filepath.Join(dir, got)); err != nil || real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			t.Fatalf("resolveLink = %q, which the kernel resolves to %q (%v): outside the repo %s", got, real, err, root)
		}
	})
}
