// Package dashboard serves `syncd fleet serve` (SPEC §6): a read-only web
// view of the fleet built from Git alone. A Poller reads the fleet's state
// (fleetstatus.Inputs) every interval and keeps the last good read; the
// handlers build the pages from it at each request (ages and staleness are
// those of the moment), and say how old the data is and why the last read
// failed when it did. Nothing here writes to Git.
package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/fleetstatus"
)

// FetchFunc reads the fleet's state from Git.
type FetchFunc func(ctx context.Context) (*fleetstatus.Inputs, error)

// Snapshot is what the dashboard serves: the last good read and how the
// last attempt went.
type Snapshot struct {
	// Inputs is the last good read; nil before the first one.
	Inputs *fleetstatus.Inputs
	// AsOf is when Inputs was read.
	AsOf time.Time
	// FailedAt and Err are the last attempt's time and error when it
	// failed; zero and nil when it succeeded.
	FailedAt time.Time
	Err      error
}

// Poller reads the fleet's state every interval and keeps the last good
// read: a failed read leaves it in place.
type Poller struct {
	fetch    FetchFunc
	interval time.Duration
	log      hclog.Logger
	now      func() time.Time

	mu   sync.Mutex
	snap Snapshot
}

// NewPoller returns a poller of fetch every interval, logging the first
// read, every failure and every recovery on log; now is the clock (nil for
// time.Now).
func NewPoller(fetch FetchFunc, interval time.Duration, log hclog.Logger, now func() time.Time) *Poller {
	if now == nil {
		now = time.Now
	}
	return &Poller{fetch: fetch, interval: interval, log: log, now: now}
}

// Snapshot is what to serve now.
func (p *Poller) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Refresh reads once and records the result; it returns the read's error.
func (p *Poller) Refresh(ctx context.Context) error {
	in, err := p.fetch(ctx)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: not a failure of Git
	}
	at := p.now()
	p.mu.Lock()
	prev := p.snap
	if err != nil {
		p.snap.FailedAt, p.snap.Err = at, err
	} else {
		p.snap = Snapshot{Inputs: in, AsOf: at}
	}
	p.mu.Unlock()
	switch {
	case err != nil && prev.Inputs == nil:
		p.log.Warn("fetch failed; no data to serve yet", "error", err)
	case err != nil:
		p.log.Warn("fetch failed; serving the last snapshot", "as_of", prev.AsOf.UTC().Format(time.RFC3339), "error", err)
	case prev.Inputs == nil:
		p.log.Info("serving the fleet's state", "revision", shortSHA(in.Revision), "reports", len(in.Reports), "unreadable", len(in.Unreadable))
	case prev.Err != nil:
		p.log.Info("fetch succeeded again", "revision", shortSHA(in.Revision), "failing_since", prev.FailedAt.UTC().Format(time.RFC3339))
	case prev.Inputs.Revision != in.Revision:
		p.log.Info("the fleet repo moved", "revision", shortSHA(in.Revision))
	}
	return err
}

// Run reads now and then every interval until ctx is done.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		_ = p.Refresh(ctx) // logged, and shown on the pages
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shortSHA is a commit's first 12 hex digits.
func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
