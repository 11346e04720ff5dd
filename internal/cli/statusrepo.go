package cli

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/status"
)

// addStatusRepo registers --status-repo and --status-identity.
func (f *commonFlags) addStatusRepo(fs *pflag.FlagSet) {
	fs.StringVar(&f.statusRepo, "status-repo", "", "repo that holds the status branches syncd/status/<site> (default: --repo), so that the deploy key of --repo can be read-only")
	fs.StringVar(&f.statusIdentity, "status-identity", "", "SSH private key for --status-repo (default: --identity); sites need write access there")
}

// statusSource is the repo of the status branches: --status-repo, or the
// fleet repo src itself.
func (f *commonFlags) statusSource(src *gitsource.Source, log hclog.Logger) (*gitsource.Source, error) {
	if f.statusRepo == "" {
		return src, nil
	}
	id := f.statusIdentity
	if id == "" {
		id = f.identity
	}
	if err := os.MkdirAll(f.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("--cache-dir: %w", err)
	}
	s, err := gitsource.New(gitsource.Options{
		URL:                      f.statusRepo,
		Branch:                   f.branch,
		IdentityFile:             id,
		Passphrase:               os.Getenv(gitsource.PassphraseEnv),
		PassphraseFile:           f.passphraseFile,
		KnownHostsFile:           f.knownHosts,
		InsecureSkipHostKeyCheck: f.insecureHostKey,
		CacheDir:                 f.cacheDir,
		Logger:                   log,
		SigningKey:               f.signingKey,
	})
	if err != nil {
		return nil, fmt.Errorf("--status-repo: %w", err)
	}
	return s, nil
}

// trustedReports reads the sites' reports from the status repo, checking
// each signature against the keys the fleet repo's head declares
// (sites/<site>/site.pub, fleet.yaml spec.reports.requireSigned): reports
// ignored for their signature are in unreadable, with the others that cannot
// be read. A site read unsigned (it declares no key) is named through
// unsignedFn.
func trustedReports(ctx context.Context, fleetSrc, statusSrc *gitsource.Source, unsignedFn func(site string)) (map[string]*status.Report, map[string]error, error) {
	rev, _, err := fleetSrc.Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	snap, err := fleetSrc.Snapshot(ctx, rev.SHA)
	if err != nil {
		return nil, nil, err
	}
	requireSigned := false
	if repo, _ := fleet.Load(snap); repo != nil && repo.Fleet != nil {
		requireSigned = repo.Fleet.Spec.Reports.RequireSigned
	}
	trust, err := status.LoadReportTrust(snap, requireSigned)
	if err != nil {
		return nil, nil, err
	}
	reports, unreadable, unsigned, err := status.ReadSignedReports(ctx, statusSrc, trust)
	if err != nil {
		return nil, nil, err
	}
	if unsignedFn != nil {
		for _, site := range unsigned {
			unsignedFn(site)
		}
	}
	return reports, unreadable, nil
}

// readReportsFrom makes p read the sites' reports from the status repo
// (--status-repo, default the fleet repo src), signatures checked, naming on
// log the sites read unsigned.
func (f *commonFlags) readReportsFrom(p *promote.Promoter, src *gitsource.Source, log hclog.Logger) error {
	statusSrc, err := f.statusSource(src, log.Named("status-repo"))
	if err != nil {
		return withCode(ExitError, err)
	}
	warn := &unsignedWarner{log: log}
	p.Reports = func(ctx context.Context) (map[string]*status.Report, map[string]error, error) {
		var unsigned []string
		reports, unreadable, err := trustedReports(ctx, src, statusSrc, func(site string) { unsigned = append(unsigned, site) })
		if err == nil {
			warn.observe(unsigned)
		}
		return reports, unreadable, err
	}
	return nil
}

// unsignedWarner names on a log the sites whose reports are read unsigned,
// once per change: when a site starts being read unsigned, not again at
// every evaluation while it stays so (it is named again if it signs and
// later stops).
type unsignedWarner struct {
	log  hclog.Logger
	mu   sync.Mutex
	prev map[string]bool
}

// observe takes the sites one evaluation read unsigned.
func (w *unsignedWarner) observe(sites []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	newly, next := unsignedChanges(w.prev, sites)
	w.prev = next
	for _, site := range newly {
		w.log.Warn("report read unsigned: the site declares no key (said once until it changes)", "site", site, "file", status.SiteKeyFile(site))
	}
}

// unsignedChanges returns the sites of now that were not in prev, sorted,
// and the set now.
func unsignedChanges(prev map[string]bool, now []string) (newly []string, next map[string]bool) {
	next = make(map[string]bool, len(now))
	for _, site := range now {
		next[site] = true
	}
	for _, site := range slices.Sorted(maps.Keys(next)) {
		if !prev[site] {
			newly = append(newly, site)
		}
	}
	return newly, next
}
