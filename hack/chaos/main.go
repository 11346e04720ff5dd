// Command chaos kills `syncd run` with SIGKILL at random points over many
// syncs of a fleet that changes at every commit (objects added, changed and
// removed, products leaving and joining the site), against a real API server
// and a real Git repository (file://), then lets one last `syncd run`
// converge and prints:
//
//   - orphans: objects of the site left in the cluster that Git no longer has;
//   - lost: objects Git has that are missing or not at Git's content;
//   - the time from the last start to convergence, beside the poll interval.
//
// The goal is 0, 0 and about one interval. It exits 1 when the site does not
// converge. It is not part of `make test` or CI:
//
//	make chaos  # go run ./hack/chaos [-syncs 100] [-objects 500] [-seed N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/testenv"
	"github.com/syncd-dev/syncd/internal/wellknown"
)

// Names of the generated fleet.
const (
	site      = "chaos"
	namespace = "chaos"
	// baseProduct holds the Namespace and never leaves the site.
	baseProduct = "base"
)

// config is what the flags set.
type config struct {
	syncs, objects, products int
	interval, maxLife        time.Duration
	converge                 time.Duration
	seed                     uint64
	keep                     bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.syncs, "syncs", 100, "commits, each followed by a `syncd run` killed with SIGKILL at a random point")
	flag.IntVar(&cfg.objects, "objects", 500, "ConfigMaps the fleet holds (about; it changes at every commit)")
	flag.IntVar(&cfg.products, "products", 10, "products the objects are spread over")
	flag.DurationVar(&cfg.interval, "interval", 2*time.Second, "syncd's --interval")
	flag.DurationVar(&cfg.maxLife, "max-life", 4*time.Second, "a killed syncd lives a random time up to this")
	flag.DurationVar(&cfg.converge, "converge-timeout", 3*time.Minute, "how long the last syncd may take to converge")
	flag.Uint64Var(&cfg.seed, "seed", uint64(time.Now().UnixNano()), "random seed (printed, to replay a run)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (logs, repository) for inspection")
	flag.Parse()
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	work, err := os.MkdirTemp("", "syncd-chaos-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Printf("work directory: %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	fmt.Printf("chaos: %d syncs of about %d objects in %d products, seed %d, interval %s\n", cfg.syncs, cfg.objects, cfg.products, cfg.seed, cfg.interval)
	bin := filepath.Join(work, "syncd")
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/syncd")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building syncd: %w", err)
	}
	cluster, err := testenv.StartCluster(ctx, testenv.ClusterOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = cluster.Stop() }()

	g := newGenerator(cfg)
	repo, err := newRepo(filepath.Join(work, "src"), filepath.Join(work, "fleet.git"))
	if err != nil {
		return err
	}
	args := []string{"run", "--site", site, "--repo", "file://" + repo.bare, "--kubeconfig", cluster.Kubeconfig,
		"--cache-dir", filepath.Join(work, "cache"), "--interval", cfg.interval.String(), "--health-timeout", "0s"}
	start := func(i int) (*testenv.Process, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		return testenv.StartProcess(fmt.Sprintf("syncd run #%d", i), bin, append(slices.Clone(args), "--listen", addr),
			filepath.Join(work, fmt.Sprintf("syncd-%03d.log", i)))
	}

	began := time.Now()
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x5eed))
	var lives []time.Duration
	for i := range cfg.syncs {
		if err := repo.commit(g.files(), fmt.Sprintf("chaos %d", i)); err != nil {
			return err
		}
		p, err := start(i)
		if err != nil {
			return err
		}
		life := time.Duration(rng.Int64N(int64(cfg.maxLife)))
		select {
		case <-p.Done():
			return fmt.Errorf("syncd run #%d exited by itself: %v (log %s)", i, p.Err(), filepath.Join(work, fmt.Sprintf("syncd-%03d.log", i)))
		case <-time.After(life):
		}
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.Done()
		lives = append(lives, life)
		g.mutate()
		if (i+1)%10 == 0 {
			fmt.Printf("  %d/%d syncs killed (%s)\n", i+1, cfg.syncs, time.Since(began).Round(time.Second))
		}
	}
	// The last commit, then one syncd that is left to converge.
	if err := repo.commit(g.files(), "chaos final"); err != nil {
		return err
	}
	want := g.desired()
	before, err := liveObjects(ctx, cluster.Client)
	if err != nil {
		return err
	}
	orphans, lost := compare(want, before)
	fmt.Printf("before the last start: %d objects live, %d in Git; %d orphans, %d lost or stale\n", len(before), len(want), len(orphans), len(lost))

	t0 := time.Now()
	p, err := start(cfg.syncs)
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(10 * time.Second) }()
	var took time.Duration
	for {
		live, err := liveObjects(ctx, cluster.Client)
		if err != nil {
			return err
		}
		orphans, lost = compare(want, live)
		if len(orphans) == 0 && len(lost) == 0 {
			took = time.Since(t0)
			break
		}
		if time.Since(t0) > cfg.converge {
			break
		}
		if p.Exited() {
			return fmt.Errorf("the last syncd run exited: %v", p.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var total time.Duration
	for _, l := range lives {
		total += l
	}
	fmt.Printf("killed %d times (mean life %s) over %s\n", len(lives), (total / time.Duration(max(len(lives), 1))).Round(time.Millisecond), time.Since(began).Round(time.Second))
	fmt.Printf("orphans: %d\n", len(orphans))
	fmt.Printf("lost:    %d\n", len(lost))
	if took == 0 {
		fmt.Printf("converge: not within %s (interval %s)\n", cfg.converge, cfg.interval)
		for _, o := range first(orphans, 10) {
			fmt.Println("  orphan", o)
		}
		for _, o := range first(lost, 10) {
			fmt.Println("  lost  ", o)
		}
		return errors.New("the site did not converge")
	}
	fmt.Printf("converge: %s from the last start (interval %s, %.2f intervals)\n", took.Round(time.Millisecond), cfg.interval, float64(took)/float64(cfg.interval))
	return nil
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// generator is the fleet: products, each a set of ConfigMaps with content.
type generator struct {
	cfg      config
	rng      *rand.Rand
	next     int                          // the next object number
	products map[string]map[string]string // product -> ConfigMap name -> data
	absent   map[string]bool              // products currently not targeting the site
}

func newGenerator(cfg config) *generator {
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed^0xf1ee7, cfg.seed)), products: map[string]map[string]string{}, absent: map[string]bool{}}
	for p := range cfg.products {
		g.products[product(p)] = map[string]string{}
	}
	for range cfg.objects {
		g.add(product(g.rng.IntN(cfg.products)))
	}
	return g
}

func product(i int) string { return fmt.Sprintf("p%02d", i) }

func (g *generator) add(p string) {
	g.products[p][fmt.Sprintf("cm-%05d", g.next)] = fmt.Sprintf("v%d", g.next)
	g.next++
}

// mutate changes about a tenth of the objects: some removed, some added, some
// changed, some moved to another product; now and then a product leaves the
// site or comes back.
func (g *generator) mutate() {
	n := max(g.cfg.objects/10, 1)
	for range n {
		p := product(g.rng.IntN(g.cfg.products))
		names := slices.Sorted(maps.Keys(g.products[p]))
		switch op := g.rng.IntN(4); {
		case op == 0 && len(names) > 0:
			delete(g.products[p], names[g.rng.IntN(len(names))])
		case op == 1 || len(names) == 0:
			g.add(p)
		case op == 2:
			g.products[p][names[g.rng.IntN(len(names))]] = fmt.Sprintf("c%d", g.rng.IntN(1<<30))
		default:
			name := names[g.rng.IntN(len(names))]
			to := product(g.rng.IntN(g.cfg.products))
			g.products[to][name] = g.products[p][name]
			if to != p {
				delete(g.products[p], name)
			}
		}
	}
	if g.rng.IntN(4) == 0 {
		p := product(g.rng.IntN(g.cfg.products))
		g.absent[p] = !g.absent[p]
	}
}

// desired is what Git asks for: ConfigMap name -> data.
func (g *generator) desired() map[string]string {
	out := map[string]string{}
	for p, objs := range g.products {
		if g.absent[p] {
			continue
		}
		maps.Copy(out, objs)
	}
	return out
}

// files is the fleet repo of the current state.
func (g *generator) files() map[string]string {
	files := map[string]string{
		"fleet.yaml":            "apiVersion: syncd.dev/v1alpha1\nkind: Fleet\nmetadata: {name: chaos}\nspec: {channels: [prod]}\n",
		"sites/chaos/site.yaml": "apiVersion: syncd.dev/v1alpha1\nkind: Site\nmetadata: {name: chaos, labels: {class: chaos}}\nspec: {channel: prod}\n",
	}
	addProduct := func(p, targets string, objects string) {
		files["products/"+p+"/product.yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Product\nmetadata: {name: %s}\nspec: {targets: %q, namespace: %s}\n", p, targets, namespace)
		files["channels/"+p+".yaml"] = fmt.Sprintf("apiVersion: syncd.dev/v1alpha1\nkind: Channels\nmetadata: {name: %s}\nspec: {prod: 1.0.0}\n", p)
		files["products/"+p+"/releases/1.0.0/kustomization.yaml"] = "resources: [objects.yaml]\n"
		files["products/"+p+"/releases/1.0.0/objects.yaml"] = objects
	}
	addProduct(baseProduct, "true", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+namespace+"}\n")
	for p, objs := range g.products {
		targets := "true"
		if g.absent[p] {
			targets = "false"
		}
		var docs []string
		for _, name := range slices.Sorted(maps.Keys(objs)) {
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: %q}\n", name, objs[name]))
		}
		if len(docs) == 0 {
			// A release renders at least one object.
			docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s-empty}\ndata: {v: \"\"}\n", p))
		}
		addProduct(p, targets, strings.Join(docs, "---\n"))
	}
	return files
}

// compare returns the orphans (live, not in Git) and the lost objects (in
// Git, missing or with other content).
func compare(want, live map[string]string) (orphans, lost []string) {
	for name := range live {
		if _, ok := want[name]; !ok && !strings.HasSuffix(name, "-empty") {
			orphans = append(orphans, name)
		}
	}
	for name, v := range want {
		got, ok := live[name]
		switch {
		case !ok:
			lost = append(lost, name+" (missing)")
		case got != v:
			lost = append(lost, fmt.Sprintf("%s (stale: %q, Git has %q)", name, got, v))
		}
	}
	slices.Sort(orphans)
	slices.Sort(lost)
	return orphans, lost
}

// liveObjects returns the site's ConfigMaps: name -> data.
func liveObjects(ctx context.Context, c client.Client) (map[string]string, error) {
	var list corev1.ConfigMapList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{wellknown.LabelSite: site}); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list.Items))
	for _, cm := range list.Items {
		out[cm.Name] = cm.Data["v"]
	}
	return out, nil
}

// repo is a working copy and the bare repository syncd reads.
type repo struct{ src, bare string }

func newRepo(src, bare string) (*repo, error) {
	r := &repo{src: src, bare: bare}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if _, err := testenv.RunGit(src, nil, "init", "--quiet", "--initial-branch=main"); err != nil {
		return nil, err
	}
	if _, err := testenv.RunGit(filepath.Dir(bare), nil, "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
		return nil, err
	}
	return r, nil
}

// commit replaces the working copy by files, commits and pushes.
func (r *repo) commit(files map[string]string, msg string) error {
	for _, dir := range []string{"products", "channels", "sites", "fleet.yaml"} {
		if err := os.RemoveAll(filepath.Join(r.src, dir)); err != nil {
			return err
		}
	}
	for name, content := range files {
		p := filepath.Join(r.src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"add", "-A"},
		{"-c", "user.name=chaos", "-c", "user.email=chaos@example.com", "commit", "--quiet", "--allow-empty", "-m", msg},
		{"push", "--quiet", r.bare, "main"},
	} {
		if _, err := testenv.RunGit(r.src, nil, args...); err != nil {
			return err
		}
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
