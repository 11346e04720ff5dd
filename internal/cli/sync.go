package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/render"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/version"
)

func newSyncCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var once, publishStatus bool
	var healthTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "sync --once [flags]",
		Short: "Reconcile this site once",
		Long: `Fetch the fleet repo, render the site's products, apply them with server-side
apply in dependency order, prune what left the render and wait for health.
Changes held back by change control (a freeze, a maintenance window, the
ramp) are not applied: the product is kept as it was applied last, and the
summary says what waits and until when; that is not a failure. Progress goes
to stderr, a summary table to stdout. Exits non-zero when a product failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if !once {
				return withCode(ExitError, fmt.Errorf("sync runs one reconcile: pass --once (the daemon is `syncd run`)"))
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			c, err := f.kubeClient()
			if err != nil {
				return err
			}
			renders := loadRenders(s.err, f.cacheDir)
			r, err := f.newReconciler(c, s.err, healthTimeout, renders)
			if err != nil {
				return err
			}
			snap, err := f.openSnapshot(cmd.Context(), s)
			if err != nil {
				return err
			}
			plan, err := r.Plan(cmd.Context(), snap.fsys, snap.revision, snap.hist)
			if err != nil {
				return err
			}
			saveRenders(s.err, f.cacheDir, renders)
			// Like the daemon at start: a first sync on a new cluster
			// needs the Conflict CRD before it can look for conflicts.
			if err := conflict.NewStore(c, f.namespace).Install(cmd.Context()); err != nil {
				return err
			}
			rep, err := r.Sync(cmd.Context(), plan)
			if err != nil {
				return err
			}
			st, err := recordStatus(cmd.Context(), c, f.namespace, f.site, rep, snap.commits)
			if err != nil {
				fmt.Fprintf(s.err, "warning: recording the site status: %v\n", err)
			}
			if publishStatus && f.offline {
				fmt.Fprintf(s.err, "offline: status report not published (carry it with `syncd bundle status-export`)\n")
			}
			if publishStatus && st != nil && snap.src != nil && !f.offline {
				statusSrc, err := f.statusSource(snap.src, nil)
				if err != nil {
					return err
				}
				publishReport(cmd.Context(), s, statusSrc, st)
			}
			if err := printSummary(s, rep); err != nil {
				return err
			}
			if err := rep.Err(); err != nil {
				return withCode(ExitError, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one reconcile and exit")
	cmd.Flags().DurationVar(&healthTimeout, "health-timeout", 2*time.Minute, "how long to wait for applied products to become healthy")
	cmd.Flags().BoolVar(&publishStatus, "publish-status", true, publishStatusUsage)
	f.addGit(cmd.Flags())
	f.addSite(cmd.Flags())
	f.addKube(cmd.Flags())
	f.addRegistry(cmd.Flags())
	f.addPrune(cmd.Flags())
	f.addVerifyCommits(cmd.Flags())
	f.addSigningKey(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	f.addOffline(cmd.Flags())
	return cmd
}

// reconciler connects to the cluster and builds a Reconciler for --site.
func (f *commonFlags) reconciler(progress io.Writer, healthTimeout time.Duration) (*reconcile.Reconciler, error) {
	c, err := f.kubeClient()
	if err != nil {
		return nil, err
	}
	return f.newReconciler(c, progress, healthTimeout, nil)
}

// newReconciler builds a Reconciler for --site over c, writing progress lines
// to progress, verifying images with the credentials of --registry-config,
// starting from the render cache renders (nil: an empty one).
func (f *commonFlags) newReconciler(c client.Client, progress io.Writer, healthTimeout time.Duration, renders *render.Cache) (*reconcile.Reconciler, error) {
	images, err := f.imageVerifier()
	if err != nil {
		return nil, err
	}
	disc, err := f.discovery()
	if err != nil {
		return nil, err
	}
	return reconcile.New(c, c.RESTMapper(), reconcile.Config{
		Site:            f.site,
		Namespace:       f.namespace,
		HealthTimeout:   healthTimeout,
		Progress:        progress,
		Images:          images,
		MaxPrunePercent: f.maxPrunePercent,
		Discovery:       disc,
		Renders:         renders,
	}), nil
}

// rendersFile is where `sync --once` keeps its renders in --cache-dir, so
// that the next run renders only the releases that changed.
const rendersFile = "renders.json"

// loadRenders reads the render cache a previous run saved in dir; a missing
// or unreadable one (said on errOut) is empty: it only saves work.
func loadRenders(errOut io.Writer, dir string) *render.Cache {
	f, err := os.Open(filepath.Join(dir, rendersFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(errOut, "warning: render cache: %v\n", err)
		}
		return render.NewCache()
	}
	defer f.Close()
	c, err := render.LoadCache(f, version.Version)
	if err != nil {
		fmt.Fprintf(errOut, "warning: render cache %s: %v (rendering everything)\n", f.Name(), err)
		return render.NewCache()
	}
	return c
}

// saveRenders writes c into dir, replacing the file at once (processes may
// share dir); a failure is only said on errOut.
func saveRenders(errOut io.Writer, dir string, c *render.Cache) {
	err := func() error {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(dir, rendersFile+".*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if err := c.Save(tmp, version.Version); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), filepath.Join(dir, rendersFile))
	}()
	if err != nil {
		fmt.Fprintf(errOut, "warning: saving the render cache: %v\n", err)
	}
}

// printSummary writes the per-product table of a sync.
func printSummary(s *streams, rep *reconcile.Report) error {
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PRODUCT\tVERSION\tCREATED\tCONFIGURED\tUNCHANGED\tPRUNED\tHEALTH\tNOTE")
	for _, r := range rep.Results {
		note := resultNote(r)
		version := r.Version
		if version == "" {
			version = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Product, version, r.Created, r.Configured, r.Unchanged, r.Pruned, r.Health, note)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	writeCompliance(s.out, status.NewCompliance(rep.Policy))
	return nil
}

// resultNote is the NOTE cell of a product's row: its error, why it was
// held back or skipped, and the conflicted fields kept for an admin.
func resultNote(r reconcile.Result) string {
	if r.Err != nil {
		return "error: " + firstLine(r.Err.Error())
	}
	note := r.Note
	if r.Held > 0 {
		held := fmt.Sprintf("%d field(s) held by open conflicts (syncd conflicts list)", r.Held)
		if note != "" {
			note += "; "
		}
		note += held
	}
	return note
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// publishStatusUsage describes --publish-status of run and sync.
const publishStatusUsage = "publish the site's status report as branch syncd/status/<site> of --repo (needs a deploy key with write access; a read-only key is reported and skipped)"

// recordStatus keeps the site status in the cluster after a one-off sync, as
// the daemon does, so `syncd status` shows it, and returns it.
// commits is what --verify-commits decided (nil without it).
func recordStatus(ctx context.Context, c client.Client, namespace, site string, rep *reconcile.Report, commits *status.Commits) (*status.SiteStatus, error) {
	store := status.NewStore(c, namespace, site)
	prev, err := store.Load(ctx)
	if err != nil {
		return nil, err
	}
	list, err := conflict.NewStore(c, namespace).List(ctx, site)
	if err != nil {
		return nil, err
	}
	st := status.Update(prev, rep, status.OpenConflicts(list), time.Now())
	st.Commits = commits
	_, err = store.Save(ctx, st)
	return st, err
}

// publishReport pushes st's report to the fleet repo, as the daemon does
// after each reconcile. A failure is a warning: the sync itself succeeded.
func publishReport(ctx context.Context, s *streams, src *gitsource.Source, st *status.SiteStatus) {
	p := status.NewPublisher(src, st.Site, nil)
	published, err := p.Publish(ctx, st)
	switch {
	case err != nil:
		fmt.Fprintf(s.err, "warning: publishing the status report: %v\n", err)
	case p.Disabled():
		fmt.Fprintf(s.err, "warning: status report not published: the deploy key may not push to %s (--publish-status=false turns this off)\n", status.Branch(st.Site))
	case published:
		fmt.Fprintf(s.err, "status report published to branch %s\n", status.Branch(st.Site))
	}
}
