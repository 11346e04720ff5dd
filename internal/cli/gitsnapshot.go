package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/daemon"
	"github.com/syncd-dev/syncd/internal/gitsource"
)

// gitSource builds the fleet repo source from the flags.
func (f *commonFlags) gitSource(log hclog.Logger) (*gitsource.Source, error) {
	if err := os.MkdirAll(f.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("--cache-dir: %w", err)
	}
	return gitsource.New(gitsource.Options{
		URL:                      f.repo,
		Branch:                   f.branch,
		IdentityFile:             f.identity,
		Passphrase:               os.Getenv(gitsource.PassphraseEnv),
		PassphraseFile:           f.passphraseFile,
		KnownHostsFile:           f.knownHosts,
		InsecureSkipHostKeyCheck: f.insecureHostKey,
		CacheDir:                 f.cacheDir,
		Logger:                   log,
		SigningKey:               f.signingKey,
		Offline:                  f.offline,
	})
}

// fetchSnapshot fetches --repo and returns the branch head's files.
func (f *commonFlags) fetchSnapshot(ctx context.Context, s *streams) (*snapshot, error) {
	src, err := f.gitSource(hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	if f.offline {
		fmt.Fprintf(s.err, "offline: reading %s (branch %s) as last imported into %s\n", f.repo, f.branch, f.cacheDir)
	} else {
		fmt.Fprintf(s.err, "fetching %s (branch %s)\n", f.repo, f.branch)
	}
	rev, _, err := src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.err, "fleet repo at %s: %s\n", shortSHA(rev.SHA), rev.Subject)
	sha, commits, err := f.verifiedRevision(ctx, s, src, rev.SHA)
	if err != nil {
		return nil, err
	}
	snap, err := src.Snapshot(ctx, sha)
	if err != nil {
		return nil, err
	}
	return &snapshot{fsys: snap, revision: sha, hist: daemon.GitSource{Source: src}, src: src, commits: commits}, nil
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
