package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/signers"
	"github.com/syncd-dev/syncd/internal/status"
)

// VerifyingSource is the fleet repo of a site that verifies commits
// (--verify-commits, SPEC §7): Fetch returns the branch head only when an
// allowed signer signed it, and otherwise the last verified revision, so the
// site stays there (drift correction included) until a signed head arrives.
type VerifyingSource struct {
	src  GitSource
	gate *signers.Gate
	log  hclog.Logger

	mu sync.Mutex
	// last is the revision the previous Fetch returned; check what the gate
	// decided then.
	last  string
	check *signers.Check
}

// NewVerifyingSource verifies the heads of src against gate.
func NewVerifyingSource(src *gitsource.Source, gate *signers.Gate, log hclog.Logger) *VerifyingSource {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &VerifyingSource{src: GitSource{Source: src}, gate: gate, log: log}
}

// Fetch implements Source: it returns the revision to apply. With no
// verified revision at all it fails, and the site is left as it is.
func (v *VerifyingSource) Fetch(ctx context.Context) (string, bool, error) {
	head, _, err := v.src.Fetch(ctx)
	if err != nil {
		return "", false, err
	}
	check, err := Verify(ctx, v.src.Source, v.gate, head)
	if err != nil {
		return "", false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if check.Held() && (v.check == nil || v.check.Head != check.Head) {
		v.log.Warn("fleet repo head not applied: its signature does not verify", "head", check.Head,
			"reason", check.Err.Error(), "applying", check.Revision)
	}
	v.check = &check
	if check.Revision == "" {
		return "", false, fmt.Errorf("no verified revision to apply: %w", check.Err)
	}
	changed := check.Revision != v.last
	v.last = check.Revision
	return check.Revision, changed, nil
}

// Verify reads commit head from src and checks it with gate.
func Verify(ctx context.Context, src *gitsource.Source, gate *signers.Gate, head string) (signers.Check, error) {
	c, err := src.CommitObject(ctx, head)
	if err != nil {
		return signers.Check{}, err
	}
	return gate.Check(c, func(sha string) (*object.Commit, error) { return src.CommitObject(ctx, sha) }), nil
}

// Commits implements commitChecker.
func (v *VerifyingSource) Commits() *status.Commits {
	v.mu.Lock()
	defer v.mu.Unlock()
	return status.NewCommits(v.check)
}

// Open implements Source.
func (v *VerifyingSource) Open(ctx context.Context, sha string) (fs.FS, error) {
	return v.src.Open(ctx, sha)
}

// FileHistory implements reconcile.History.
func (v *VerifyingSource) FileHistory(ctx context.Context, sha, name string, max int) ([]gitsource.FileRevision, error) {
	return v.src.FileHistory(ctx, sha, name, max)
}

// commitChecker is a Source that verifies commits and says what it decided.
type commitChecker interface {
	Commits() *status.Commits
}
