package cli

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/daemon"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/signers"
	"github.com/syncd-dev/syncd/internal/status"
)

// addVerifyCommits registers --verify-commits.
func (f *commonFlags) addVerifyCommits(fs *pflag.FlagSet) {
	fs.StringVar(&f.verifyCommits, "verify-commits", "", "allowed_signers file (git's format, gpg.ssh.allowedSignersFile; OpenPGP keys as armored public key blocks in it): apply only a branch head signed by one of these keys, else stay at the last verified revision")
}

// commitGate loads --verify-commits and starts from the last verified
// revision recorded in the site status in the cluster (so a restart, or the
// next `sync --once`, stays where the site was). nil without the flag.
func (f *commonFlags) commitGate(ctx context.Context, c client.Client) (*signers.Gate, error) {
	if f.verifyCommits == "" {
		return nil, nil
	}
	as, err := signers.Load(f.verifyCommits)
	if err != nil {
		return nil, withCode(ExitError, fmt.Errorf("--verify-commits: %w", err))
	}
	st, err := status.NewStore(c, f.namespace, f.site).Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the last verified revision: %w", err)
	}
	remembered := ""
	if st != nil && st.Commits != nil {
		remembered = st.Commits.Verified
	}
	return signers.NewGate(as, remembered), nil
}

// daemonSource is the fleet repo as `syncd run` reads it: verified with
// --verify-commits.
func (f *commonFlags) daemonSource(ctx context.Context, c client.Client, src *gitsource.Source, log hclog.Logger) (daemon.Source, error) {
	gate, err := f.commitGate(ctx, c)
	if err != nil || gate == nil {
		return daemon.GitSource{Source: src}, err
	}
	return daemon.NewVerifyingSource(src, gate, log.Named("commits")), nil
}

// verifiedRevision checks head with --verify-commits and returns the
// revision to read, saying on stderr when the head is not applied. Without
// the flag it is head.
func (f *commonFlags) verifiedRevision(ctx context.Context, s *streams, src *gitsource.Source, head string) (string, *status.Commits, error) {
	if f.verifyCommits == "" {
		return head, nil, nil
	}
	if f.site == "" {
		return "", nil, withCode(ExitError, fmt.Errorf("--verify-commits needs --site (its last verified revision is kept with the site status)"))
	}
	c, err := f.kubeClient()
	if err != nil {
		return "", nil, err
	}
	gate, err := f.commitGate(ctx, c)
	if err != nil {
		return "", nil, err
	}
	check, err := daemon.Verify(ctx, src, gate, head)
	if err != nil {
		return "", nil, err
	}
	commits := status.NewCommits(&check)
	fmt.Fprintf(s.err, "commit verification: %s\n", commits)
	if check.Revision == "" {
		return "", commits, fmt.Errorf("no verified revision to apply: %w", check.Err)
	}
	return check.Revision, commits, nil
}
