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

// reportReader reads the sites' reports from the status repo, checking
// each signature against the keys the fleet repo declares
// (sites/<site>/site.pub, fleet.yaml spec.reports.requireSigned): reports
// ignored for their signature are in unreadable, with the others that cannot
// be read. A long-lived reader (the promoter of `run --promote`) keeps one,
// so that an evaluation reloads the keys only when the fleet repo moved and
// re-reads only the reports whose branch moved.
type reportReader struct {
	statusSrc *gitsource.Source
	cache     *status.ReportCache

	mu       sync.Mutex
	trustRev string
	trust    *status.ReportTrust
}

func newReportReader(statusSrc *gitsource.Source) *reportReader {
	return &reportReader{statusSrc: statusSrc, cache: status.NewReportCache()}
}

// read reads the reports trusting the fleet repo at at; a site read
// unsigned (it declares no key) is named through unsignedFn.
func (r *reportReader) read(ctx context.Context, at promote.FleetAt, unsignedFn func(site string)) (map[string]*status.Report, map[string]error, error) {
	trust, err := r.trustAt(at)
	if err != nil {
		return nil, nil, err
	}
	reports, unreadable, unsigned, err := r.cache.ReadSignedReports(ctx, r.statusSrc, trust)
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

// trustAt is the keys the fleet repo at declares, loaded once per revision.
func (r *reportReader) trustAt(at promote.FleetAt) (*status.ReportTrust, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trust != nil && r.trustRev == at.Revision && r.trust.RequireSigned == at.RequireSigned {
		return r.trust, nil
	}
	trust, err := status.LoadReportTrust(at.Files, at.RequireSigned)
	if err != nil {
		return nil, err
	}
	r.trustRev, r.trust = at.Revision, trust
	return trust, nil
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
	reader := newReportReader(statusSrc)
	p.Reports = func(ctx context.Context, at promote.FleetAt) (map[string]*status.Report, map[string]error, error) {
		var unsigned []string
		reports, unreadable, err := reader.read(ctx, at, func(site string) { unsigned = append(unsigned, site) })
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
