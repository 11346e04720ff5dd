package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/daemon"
	"github.com/syncd-dev/syncd/internal/metrics"
	"github.com/syncd-dev/syncd/internal/profiling"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/tracing"
	"github.com/syncd-dev/syncd/internal/version"
)

func newRunCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var resync, healthTimeout, retention time.Duration
	var leaderElect, publishStatus, promoter bool
	var webhookSecret, pprofAddr string
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Run the per-site reconcile daemon",
		Long: `Poll the fleet repo every --interval and reconcile the site on every new commit
(and every --resync as a safety net). Out-of-band edits and deletes of the
objects syncd manages, and conflicts resolved with ` + "`syncd conflicts resolve`" + `,
are handled within a second through watches. SIGTERM stops after the current
step; a stopped apply is safe to resume.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			if f.repo == "" {
				return withCode(ExitError, fmt.Errorf("--repo (or SYNCD_REPO) is required"))
			}
			if f.offline && promoter {
				return withCode(ExitError, fmt.Errorf("--promote needs the fleet repo's server: it cannot run --offline"))
			}
			if pprofAddr != "" {
				if err := profiling.CheckLoopback(pprofAddr); err != nil {
					return withCode(ExitError, err)
				}
			}
			log, err := newLogger(s, f.logFormat)
			if err != nil {
				return err
			}
			log = log.With("site", f.site)
			tp, err := newTracerProvider(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer func() { _ = tp.Shutdown(cmd.Context()) }()
			src, err := f.gitSource(log.Named("git"))
			if err != nil {
				return err
			}
			cfg, err := f.restConfig()
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: conflict.Scheme()})
			if err != nil {
				return fmt.Errorf("connecting to the cluster at %s: %w", cfg.Host, err)
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			images, err := f.imageVerifier()
			if err != nil {
				return err
			}
			disc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return err
			}
			dcfg := daemon.Config{
				Site: f.site, Namespace: f.namespace, Interval: f.interval, Resync: resync,
				HealthTimeout: healthTimeout, ConflictRetention: retention, Log: log, Images: images,
				Metrics:         metrics.New(f.site),
				MaxPrunePercent: f.maxPrunePercent, Discovery: disc, Tracer: tp,
			}
			if publishStatus && f.offline {
				log.Info("offline: status reports are not published; carry them with `syncd bundle status-export`")
			}
			if publishStatus && !f.offline {
				statusSrc, err := f.statusSource(src, log.Named("status-repo"))
				if err != nil {
					return err
				}
				dcfg.Publisher = status.NewPublisher(statusSrc, f.site, log.Named("status"))
			}
			dsrc, err := f.daemonSource(cmd.Context(), c, src, log)
			if err != nil {
				return err
			}
			d := daemon.New(c, dyn, c.RESTMapper(), dsrc, dcfg)
			// work is what the leader runs: the reconcile loop and, with
			// --promote, the promoter beside it.
			work := d.Run
			if promoter {
				p := newPromoter(src, log.Named("promote"), dcfg.Metrics,
					&promotionEvents{client: c, namespace: f.namespace, site: f.site, log: log.Named("promote")})
				p.Tracer = tp
				if err := f.readReportsFrom(p, src, log); err != nil {
					return err
				}
				work = func(ctx context.Context) error {
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					done := make(chan struct{})
					go func() {
						defer close(done)
						_ = promoteLoop(ctx, p, f.interval, nil)
					}()
					err := d.Run(ctx)
					cancel()
					<-done
					return err
				}
			}
			ctx := cmd.Context()
			stopServer, err := serve(ctx, f.listen, d.Handler(webhookSecret), log, "/metrics, /healthz, /readyz")
			if err != nil {
				return err
			}
			defer stopServer()
			if pprofAddr != "" {
				stopPprof, err := servePprof(ctx, pprofAddr, log)
				if err != nil {
					return err
				}
				defer stopPprof()
			}
			log.Info("starting", "repo", f.repo, "branch", f.branch, "interval", f.interval, "listen", f.listen, "webhook", webhookSecret != "", "leader_elect", leaderElect, "promote", promoter)
			if !leaderElect {
				return work(ctx)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			host, _ := os.Hostname()
			d.SetStandby(true)
			return daemon.RunAsLeader(ctx, cs, daemon.LeaderConfig{
				Namespace: f.namespace, Name: "syncd-" + f.site, Identity: fmt.Sprintf("%s-%d", host, os.Getpid()),
			}, log, func(ctx context.Context) error {
				d.SetStandby(false)
				return work(ctx)
			})
		},
	}
	cmd.Flags().DurationVar(&resync, "resync", 10*time.Minute, "full reconcile at least this often, even without new commits")
	cmd.Flags().DurationVar(&healthTimeout, "health-timeout", 2*time.Minute, "how long each sync waits for health")
	cmd.Flags().BoolVar(&publishStatus, "publish-status", true, publishStatusUsage)
	cmd.Flags().BoolVar(&promoter, "promote", false, "also run the promoter (on the leader only): evaluate the pipelines every --interval and commit bumps and recalls (needs a deploy key with write access)")
	cmd.Flags().BoolVar(&leaderElect, "leader-elect", false, "elect a leader with a Lease so that of several replicas only one reconciles")
	cmd.Flags().StringVar(&webhookSecret, "webhook-secret", "", "shared secret enabling POST /hooks/git (GitHub-style X-Hub-Signature-256); prefer SYNCD_WEBHOOK_SECRET")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve Go's net/http/pprof on this loopback address (e.g. 127.0.0.1:6060; other addresses are refused); off when empty")
	cmd.Flags().DurationVar(&retention, "conflict-retention", 30*24*time.Hour, "how long resolved and superseded conflicts are kept for audit (0 keeps them)")
	f.addRemoteGit(cmd.Flags())
	f.addSite(cmd.Flags())
	f.addKube(cmd.Flags())
	f.addRegistry(cmd.Flags())
	f.addDaemon(cmd.Flags())
	f.addPrune(cmd.Flags())
	f.addVerifyCommits(cmd.Flags())
	f.addSigningKey(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	f.addOffline(cmd.Flags())
	return cmd
}

// newLogger returns an hclog logger writing text or JSON to stderr.
func newLogger(s *streams, format string) (hclog.Logger, error) {
	switch format {
	case "text", "json":
	default:
		return nil, withCode(ExitError, fmt.Errorf("--log-format %q: want text or json", format))
	}
	level := hclog.LevelFromString(os.Getenv("SYNCD_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: "syncd", Output: s.err, JSONFormat: format == "json", Level: level}), nil
}

// newTracerProvider returns the tracer provider the OTEL_* environment
// variables configure (a no-op one without an OTLP endpoint).
func newTracerProvider(ctx context.Context, log hclog.Logger) (*tracing.Provider, error) {
	tp, err := tracing.New(ctx, os.Getenv, version.Version)
	if err != nil {
		return nil, withCode(ExitError, fmt.Errorf("tracing: %w", err))
	}
	if tp.Config.Enabled {
		log.Info("exporting traces over OTLP/HTTP", "endpoint", tp.Config.Endpoint)
	}
	return tp, nil
}

// serve runs the HTTP endpoints on addr until the returned stop is called;
// what names them in the log line that says where they are served.
func serve(ctx context.Context, addr string, h http.Handler, log hclog.Logger, what string) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	srv := daemon.NewHTTPServer(h, daemon.DefaultHTTPTimeouts)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
		}
	}()
	log.Info("serving "+what, "address", ln.Addr().String())
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}

// servePprof serves the pprof endpoints on addr (a loopback address) until
// the returned stop is called.
func servePprof(ctx context.Context, addr string, log hclog.Logger) (stop func(), err error) {
	srv, err := profiling.Serve(addr)
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	log.Info("serving /debug/pprof/", "address", srv.Addr)
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Stop(shutdownCtx); err != nil {
			log.Warn("pprof server", "error", err)
		}
	}, nil
}
