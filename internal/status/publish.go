package status

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/gitsource"
)

// Committer commits and pushes a change to the fleet repo; *gitsource.Source
// is one.
type Committer interface {
	Commit(ctx context.Context, req gitsource.CommitRequest) (string, error)
}

// Publisher pushes a site's status report to the fleet repo as the single
// commit of Branch(site), replaced when the report changes (SPEC §4). Its
// methods are safe for concurrent use; publishes run one at a time.
type Publisher struct {
	src  Committer
	site string
	log  hclog.Logger

	mu       sync.Mutex
	refresh  time.Duration     // how often an unchanged report is refreshed
	digest   [sha256.Size]byte // of the report last published, without RefreshedAt
	at       time.Time         // RefreshedAt of the report last published
	known    bool              // digest and at are set
	disabled bool              // the deploy key may not push
}

// NewPublisher returns a Publisher of site's report through src, logging to
// log (nil for none).
func NewPublisher(src Committer, site string, log hclog.Logger) *Publisher {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Publisher{src: src, site: site, refresh: DefaultRefresh, log: log.With("site", site, "branch", Branch(site))}
}

// SetRefresh sets how often Publish refreshes the liveness time of a report
// that did not otherwise change (fleet.yaml spec.reports.refresh);
// DefaultRefresh when d is not positive.
func (p *Publisher) SetRefresh(d time.Duration) {
	if d <= 0 {
		d = DefaultRefresh
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refresh = d
}

// Publish pushes st's report, refreshed at st.UpdatedAt, unless it differs
// from the report this Publisher last published only by a liveness time less
// than the refresh interval (SetRefresh) older, and reports whether it
// committed: true when the branch now holds this report. An idle site so
// pushes one small commit per refresh interval. The last published report is remembered in memory only, so the
// first Publish after a restart always commits; gitsource compares the
// result with the branch's current commit and pushes nothing when the report
// there is the same.
//
// When the server refuses the push (the deploy key is read-only, or a hook
// protects the branch), Publish logs a warning once and from then on returns
// false and no error without trying again: reports need a key with write
// access, and a site without one keeps syncing. Other errors, such as the
// server being unreachable, are returned and the next Publish tries again.
func (p *Publisher) Publish(ctx context.Context, st *SiteStatus) (bool, error) {
	if st.Site != p.site {
		return false, fmt.Errorf("publishing status of site %q with the publisher of site %q", st.Site, p.site)
	}
	report := NewReport(st)
	data, err := report.Marshal()
	if err != nil {
		return false, err
	}
	digest, err := contentDigest(report)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disabled || (p.known && digest == p.digest && report.RefreshedAt.Sub(p.at) < p.refresh) {
		return false, nil
	}
	_, err = p.src.Commit(ctx, gitsource.CommitRequest{
		Branch:  Branch(p.site),
		Force:   true,
		Message: fmt.Sprintf("status of site %s at %s", p.site, shortRevision(st.Revision)),
		Trailers: []gitsource.Trailer{
			{Key: "Syncd-Site", Value: p.site},
			{Key: "Syncd-Revision", Value: st.Revision},
		},
		Change: func(w *gitsource.WorkTree) error { return writeReport(w, data) },
	})
	if errors.Is(err, gitsource.ErrAuth) || errors.Is(err, gitsource.ErrPushRejected) {
		p.disabled = true
		p.log.Warn("status report disabled: deploy key is read-only", "error", err)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("publishing status report of site %s: %w", p.site, err)
	}
	p.digest, p.at, p.known = digest, report.RefreshedAt, true
	return true, nil
}

// RefreshDue returns when the report last published becomes due for a
// liveness refresh: a Publish of the same report at or after that time
// commits again. ok is false when nothing was published yet or publishing is
// disabled.
func (p *Publisher) RefreshDue() (due time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.known || p.disabled {
		return time.Time{}, false
	}
	// Liveness times have second precision: a refresh interval with a
	// fraction of a second is only reached at the next whole second.
	return p.at.Add((p.refresh + time.Second - 1).Truncate(time.Second)), true
}

// Refresh returns how often an unchanged report is refreshed.
func (p *Publisher) Refresh() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refresh
}

// contentDigest is the digest of r without its liveness time.
func contentDigest(r *Report) ([sha256.Size]byte, error) {
	c := *r
	c.RefreshedAt = time.Time{}
	data, err := c.Marshal()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(data), nil
}

// Disabled reports whether Publish gave up because the server refuses the
// deploy key's pushes.
func (p *Publisher) Disabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.disabled
}

// writeReport makes the branch's content ReportFile alone: the commit is
// built from the branch's previous content, which holds only the previous
// report unless someone pushed other files there.
func writeReport(w *gitsource.WorkTree, data []byte) error {
	var stray []string
	err := fs.WalkDir(w, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && name != ReportFile {
			stray = append(stray, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing the status branch: %w", err)
	}
	for _, name := range stray {
		if err := w.Remove(name); err != nil {
			return fmt.Errorf("removing %s from the status branch: %w", name, err)
		}
	}
	if err := w.WriteFile(ReportFile, data); err != nil {
		return fmt.Errorf("writing %s: %w", ReportFile, err)
	}
	return nil
}

// shortRevision abbreviates a commit hash for a commit message.
func shortRevision(rev string) string {
	switch {
	case rev == "":
		return "no revision"
	case len(rev) > 12:
		return rev[:12]
	}
	return rev
}
