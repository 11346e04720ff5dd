package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/prune"
	"github.com/syncd-dev/syncd/internal/verify"
)

// commonFlags are the flags SPEC §6 gives every command that reaches Git or
// the cluster. Each can also be set as SYNCD_<NAME> (dashes as underscores).
type commonFlags struct {
	repo       string
	repoDir    string
	branch     string
	site       string
	identity   string
	knownHosts string
	kubeconfig string
	context    string
	namespace  string
	interval   time.Duration
	listen     string
	logFormat  string
	cacheDir   string

	insecureHostKey bool
	passphraseFile  string
	registryConfig  string
	maxPrunePercent int
	verifyCommits   string
	signingKey      string
	statusRepo      string
	statusIdentity  string
	offline         bool
}

// addGit registers the flags that locate the fleet repo: a Git server
// (--repo) or a local directory (--repo-dir).
func (f *commonFlags) addGit(fs *pflag.FlagSet) {
	fs.StringVar(&f.repoDir, "repo-dir", "", "read the fleet repo from this local directory instead of --repo")
	f.addRemoteGit(fs)
}

// addRemoteGit registers the flags that locate the fleet repo on a Git
// server, for the commands that need its history and branches (run,
// promote, fleet status) and so cannot read a plain directory.
func (f *commonFlags) addRemoteGit(fs *pflag.FlagSet) {
	fs.StringVar(&f.repo, "repo", "", "fleet repo URL: ssh://, scp-like user@host:path, or file:// (tests)")
	fs.StringVar(&f.branch, "branch", "main", "branch of the fleet repo to track")
	fs.StringVar(&f.identity, "identity", "", "SSH private key file (the deploy key)")
	fs.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts file for the Git server (required for SSH)")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "file holding the --identity key's passphrase (or set SYNCD_IDENTITY_PASSPHRASE)")
	fs.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(), "where the fleet repo is cached between runs")
	fs.BoolVar(&f.insecureHostKey, "insecure-skip-host-key-check", false, "do not verify the Git server's host key (labs only; logged as a warning on every fetch)")
}

// addOffline registers --offline (airgapped sites, SPEC §8).
func (f *commonFlags) addOffline(fs *pflag.FlagSet) {
	fs.BoolVar(&f.offline, "offline", false, "airgapped site: never contact --repo; sync the revision that 'syncd bundle import' last brought into --cache-dir (status reports leave with 'syncd bundle status-export')")
}

// addSite registers --site.
func (f *commonFlags) addSite(fs *pflag.FlagSet) {
	fs.StringVar(&f.site, "site", "", "the site this syncd serves (sites/<site>/site.yaml)")
}

// addKube registers the flags that reach the cluster.
func (f *commonFlags) addKube(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster, then $KUBECONFIG)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context")
	fs.StringVar(&f.namespace, "namespace", "syncd-system", "syncd's namespace (inventories, conflicts, status)")
}

// addRegistry registers --registry-config.
func (f *commonFlags) addRegistry(fs *pflag.FlagSet) {
	fs.StringVar(&f.registryConfig, "registry-config", "", "docker config JSON with registry credentials for image verification (default: anonymous)")
}

// imageVerifier returns the verifier of products' image signatures, with the
// credentials of --registry-config.
func (f *commonFlags) imageVerifier() (*verify.Verifier, error) {
	if f.registryConfig == "" {
		return verify.New(), nil
	}
	kc, err := verify.LoadKeychain(f.registryConfig)
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	return verify.New(verify.WithKeychain(kc)), nil
}

// addPrune registers the flags of the prune safety rules (SPEC §2.2).
func (f *commonFlags) addPrune(fs *pflag.FlagSet) {
	fs.IntVar(&f.maxPrunePercent, "max-prune-percent", prune.DefaultMaxPercent,
		"a sync that would delete more than this share of the site's objects deletes nothing, unless the head commit carries the trailer '"+prune.AllowMassPruneTrailer+": true' (100 allows any share)")
}

// addDaemon registers the daemon's flags.
func (f *commonFlags) addDaemon(fs *pflag.FlagSet) {
	fs.DurationVar(&f.interval, "interval", 15*time.Second, "how often to poll the fleet repo (each wait up to 10% longer at random, so sites started together spread out)")
	fs.StringVar(&f.listen, "listen", ":9090", "address for /metrics, /healthz and /readyz")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
}

func defaultCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return dir + "/syncd"
	}
	return os.TempDir() + "/syncd-cache"
}

// exclusiveWith names the flag that excludes name: when the command line
// gives one, the environment does not set the other.
func exclusiveWith(name string) string {
	switch name {
	case "repo":
		return "repo-dir"
	case "repo-dir":
		return "repo"
	}
	return ""
}

// bindEnv sets every flag not given on the command line from SYNCD_<NAME>.
func bindEnv(cmd *cobra.Command) error {
	var errs []string
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		if other := cmd.Flags().Lookup(exclusiveWith(fl.Name)); other != nil && other.Changed {
			return
		}
		name := "SYNCD_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fl.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// requireSite fails when --site is missing.
func (f *commonFlags) requireSite() error {
	if f.site == "" {
		return withCode(ExitError, fmt.Errorf("--site (or SYNCD_SITE) is required"))
	}
	return nil
}

// restConfig loads the cluster configuration: --kubeconfig, else in-cluster,
// else $KUBECONFIG and ~/.kube/config.
func (f *commonFlags) restConfig() (*rest.Config, error) {
	if f.kubeconfig == "" && f.context == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			cfg.QPS, cfg.Burst = 1000, 2000
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.kubeconfig != "" {
		rules.ExplicitPath = f.kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	// The API server protects itself with priority and fairness; a client-side
	// limit would only serialize a large site.
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg, nil
}

// discovery returns a discovery client for the cluster: what a Namespace
// holds is checked before syncd deletes it.
func (f *commonFlags) discovery() (discovery.DiscoveryInterface, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	d, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster at %s: %w", cfg.Host, err)
	}
	return d, nil
}

// kubeClient returns a client for the cluster.
func (f *commonFlags) kubeClient() (client.Client, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster at %s: %w", cfg.Host, err)
	}
	return c, nil
}
