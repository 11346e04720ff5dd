package cli

import (
	"context"
	"fmt"
	"os"

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
	p.Reports = func(ctx context.Context) (map[string]*status.Report, map[string]error, error) {
		return trustedReports(ctx, src, statusSrc, func(site string) {
			log.Warn("report read unsigned: the site declares no key", "site", site, "file", status.SiteKeyFile(site))
		})
	}
	return nil
}
