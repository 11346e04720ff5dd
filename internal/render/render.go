package render

import (
	"context"
	"fmt"
	"maps"
	"path"
	"runtime"
	"sort"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

// Labels syncd puts on every object it renders (defined in wellknown).
const (
	LabelSite    = wellknown.LabelSite
	LabelProduct = wellknown.LabelProduct
	LabelVersion = wellknown.LabelVersion
)

// MaxObjects bounds the objects one product renders for one site (its
// release with the site's Component): a larger render is refused, so a
// generator gone wrong cannot flood a cluster, and an inventory stays small
// enough to store.
const MaxObjects = 5000

// Request names one product release to render for one site.
type Request struct {
	// Site and Product name what is rendered; Version is the release.
	Site, Product, Version string
	// ReleaseDir is the repo-relative kustomize directory of the release.
	ReleaseDir string
	// ComponentDir is the repo-relative directory of the site's kustomize
	// Component for the product, or empty.
	ComponentDir string
	// Namespace is given to namespaced objects that have none.
	Namespace string
}

// Result is the outcome of rendering one Request.
type Result struct {
	Request Request
	// Objects are the rendered objects, labelled and namespaced, in apply order.
	Objects []*unstructured.Unstructured
	// Sources say where the objects are declared, when known.
	Sources Sources
	// Err is why the render failed; Objects is then nil.
	Err error
}

// RenderAll renders every request, in parallel. One failing request does
// not stop the others: its Result carries the error.
func (r *Repo) RenderAll(ctx context.Context, reqs []Request) []Result {
	results := make([]Result, len(reqs))
	roots := make([]string, len(reqs))
	files := make([][]string, len(reqs))
	// Synthetic kustomizations are written before rendering starts: the
	// in-memory file system is not safe for concurrent writes and reads.
	for i, req := range reqs {
		results[i].Request = req
		root, read, err := r.prepare(req)
		roots[i], files[i], results[i].Err = root, read, err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range reqs {
		span := func() trace.Span {
			_, span := tracing.Start(ctx, "render", tracing.Site.String(reqs[i].Site), tracing.Product.String(reqs[i].Product),
				tracing.Version.String(reqs[i].Version))
			return span
		}
		if results[i].Err != nil {
			tracing.End(span(), results[i].Err)
			continue
		}
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				results[i].Err = err
				return nil
			}
			span := span()
			objs, srcs, err := r.build(roots[i], files[i], reqs[i])
			span.SetAttributes(attribute.Int("syncd.objects", len(objs)))
			tracing.End(span, err)
			results[i].Objects, results[i].Sources, results[i].Err = objs, srcs, err
			return nil
		})
	}
	_ = g.Wait()
	return results
}

// Render renders one request.
func (r *Repo) Render(ctx context.Context, req Request) ([]*unstructured.Unstructured, error) {
	res := r.RenderAll(ctx, []Request{req})[0]
	return res.Objects, res.Err
}

// prepare checks the request's kustomizations and returns the directory to run
// kustomize in (the release itself, or a synthetic kustomization layering the
// site's Component on top of it) and the files the render reads.
func (r *Repo) prepare(req Request) (string, []string, error) {
	release := abs(path.Clean(req.ReleaseDir))
	if !r.fs.IsDir(release) {
		return "", nil, fmt.Errorf("release directory %s does not exist", req.ReleaseDir)
	}
	seen := map[string]bool{}
	if err := r.badFileUnder(release, nil); err != nil {
		return "", nil, err
	}
	if err := r.checkLocal(release, seen); err != nil {
		return "", nil, err
	}
	if req.ComponentDir == "" {
		return release, r.filesOf(seen), nil
	}
	component := abs(path.Clean(req.ComponentDir))
	if err := r.badFileUnder(component, nil); err != nil {
		return "", nil, err
	}
	if err := r.checkLocal(component, seen); err != nil {
		return "", nil, err
	}
	root := path.Join("/.syncd-render", req.Site, req.Product)
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\ncomponents:\n- %s\n",
		relTo(root, release), relTo(root, component))
	if err := r.fs.MkdirAll(root); err != nil {
		return "", nil, err
	}
	if err := r.fs.WriteFile(path.Join(root, "kustomization.yaml"), []byte(k)); err != nil {
		return "", nil, err
	}
	return root, r.filesOf(seen), nil
}

// filesOf returns the files among the paths checkLocal saw, sorted.
func (r *Repo) filesOf(seen map[string]bool) []string {
	var files []string
	for p := range seen {
		if r.fs.IsDir(p) {
			if k, _, err := r.readKustomization(p); err == nil {
				files = append(files, k)
			}
			continue
		}
		files = append(files, p)
	}
	sort.Strings(files)
	return files
}

// relTo returns target relative to dir, both absolute and clean.
func relTo(dir, target string) string {
	up := ""
	for d := dir; d != "/"; d = path.Dir(d) {
		up += "../"
	}
	return up + target[1:]
}

// runKustomize runs kustomize in dir. kustomize panics on some malformed
// input; the panic becomes this render's error, so that one product's
// kustomization fails that product's render instead of taking the process
// (and every other product) down.
func runKustomize(fsys filesys.FileSystem, dir string, opts *krusty.Options) (m resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kustomize failed on this input (a kustomize bug): %v", p)
		}
	}()
	return krusty.MakeKustomizer(opts).Run(fsys, dir)
}

// withoutQuotedLine rewrites kustomize's error for a line of an env or
// properties file that is not UTF-8, which quotes the whole line (as bytes,
// then as text): for a secretGenerator that line holds a secret's value, and
// a render error goes to logs, Events and the status report. ok is false
// when msg is not that error.
func withoutQuotedLine(msg string) (string, bool) {
	const marker = "] has invalid utf8 bytes"
	end := strings.Index(msg, marker)
	if end < 0 {
		return msg, false
	}
	start := strings.LastIndex(msg[:end], "line [")
	if start < 0 {
		return msg, false
	}
	return msg[:start] + "a line is not valid UTF-8 (the line is not shown: it may hold a secret value)", true
}

// build runs kustomize in dir and post-processes the objects. files are the
// repo files the render reads: when kustomize fails, a YAML syntax error in
// one of them is reported by its repo path and line.
func (r *Repo) build(dir string, files []string, req Request) ([]*unstructured.Unstructured, Sources, error) {
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = kusttypes.DisabledPluginConfig()
	// The in-memory file system holds only the repo, so no restriction is
	// needed to keep kustomize inside it; releases may share bases.
	opts.LoadRestrictions = kusttypes.LoadRestrictionsNone
	resMap, err := runKustomize(r.fs, dir, opts)
	if err != nil {
		if bad := r.firstSyntaxError(files); bad != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %w", req.ReleaseDir, bad)
		}
		if bad := r.firstIncompleteObject(files); bad != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %w", req.ReleaseDir, bad)
		}
		if msg, ok := withoutQuotedLine(err.Error()); ok {
			return nil, nil, fmt.Errorf("kustomize build %s: %s", req.ReleaseDir, msg)
		}
		return nil, nil, fmt.Errorf("kustomize build %s: %w", req.ReleaseDir, err)
	}
	if err := tooManyObjects(req, resMap.Size()); err != nil {
		return nil, nil, err
	}
	declared := r.declared(files)
	from := map[*unstructured.Unstructured]Source{}
	objs := make([]*unstructured.Unstructured, 0, resMap.Size())
	for _, res := range resMap.Resources() {
		// Through JSON, so numbers get the int64/float64 types the
		// Kubernetes machinery expects (kustomize's own maps hold int).
		data, err := res.MarshalJSON()
		if err != nil {
			// A key defined twice in one mapping passes kustomize and fails here.
			if bad := r.firstSyntaxError(files); bad != nil {
				return nil, nil, fmt.Errorf("kustomize build %s: %w", req.ReleaseDir, bad)
			}
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", req.ReleaseDir, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", req.ReleaseDir, res.CurId(), err)
		}
		objs = append(objs, u)
		org := res.OrgId()
		if src, ok := declared[org.Kind+"/"+org.Name]; ok {
			from[u] = src
		}
	}
	if len(objs) == 0 {
		return nil, nil, fmt.Errorf("kustomize build %s: the release renders no objects", req.ReleaseDir)
	}
	scopes := newScopes(objs)
	finish(objs, req, scopes)
	srcs := make(Sources, len(from))
	for o, src := range from {
		srcs[ObjectKey(o)] = src
	}
	srcs, err = ClusterScopedNamespaces(objs, srcs, func(o *unstructured.Unstructured) bool { return !scopes.namespaced(o) })
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", req.ReleaseDir, err)
	}
	return objs, srcs, nil
}

// tooManyObjects refuses a render of n objects above MaxObjects.
func tooManyObjects(req Request, n int) error {
	if n <= MaxObjects {
		return nil
	}
	return fmt.Errorf("kustomize build %s: product %s renders %d objects, more than the limit of %d objects per product", req.ReleaseDir, req.Product, n, MaxObjects)
}

// ClusterScopedNamespaces checks the namespaces of the objects among objs
// that clusterScoped says are cluster-scoped: one whose file writes
// metadata.namespace is refused, placed at that line (the API server would
// drop the namespace, and syncd would track an object that does not exist);
// any other loses its namespace (a kustomize transformer, or syncd's default
// for a kind it took as namespaced, gave it one) and objs is sorted again.
// It returns srcs, the objects' sources, re-keyed: a new map when an object
// lost its namespace, srcs is not modified.
func ClusterScopedNamespaces(objs []*unstructured.Unstructured, srcs Sources, clusterScoped func(*unstructured.Unstructured) bool) (Sources, error) {
	out, changed := srcs, false
	for _, o := range objs {
		if o.GetNamespace() == "" || !clusterScoped(o) {
			continue
		}
		src, ok := srcs.Of(o)
		if ok && src.Declares("metadata.namespace") {
			return srcs, src.At("metadata.namespace", fmt.Errorf("%s %s is cluster-scoped: it takes no namespace; remove metadata.namespace %q",
				o.GetKind(), o.GetName(), o.GetNamespace()))
		}
		if !changed {
			out, changed = maps.Clone(srcs), true
		}
		if ok {
			delete(out, ObjectKey(o))
		}
		o.SetNamespace("")
		if ok {
			out[ObjectKey(o)] = src
		}
	}
	if changed {
		Sort(objs)
	}
	return out, nil
}

// finish labels the objects, defaults their namespace and sorts them.
func finish(objs []*unstructured.Unstructured, req Request, scopes scopes) {
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelSite] = req.Site
		labels[LabelProduct] = req.Product
		labels[LabelVersion] = req.Version
		o.SetLabels(labels)
		if o.GetNamespace() == "" && req.Namespace != "" && scopes.namespaced(o) {
			o.SetNamespace(req.Namespace)
		}
	}
	Sort(objs)
}

// Sort orders objects for applying and printing: Namespaces and CRDs first,
// then the rest by kind, namespace and name.
func Sort(objs []*unstructured.Unstructured) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ra, rb := kindRank(a), kindRank(b); ra != rb {
			return ra < rb
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

func kindRank(o *unstructured.Unstructured) int {
	switch o.GetKind() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding":
		return 2
	default:
		return 3
	}
}

// Filesystem exposes the in-memory file system, for tests.
func (r *Repo) Filesystem() filesys.FileSystem { return r.fs }
