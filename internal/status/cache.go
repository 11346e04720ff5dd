package status

import (
	"context"
	"sync"

	"golang.org/x/crypto/ssh"
)

// ReportCache remembers the reports a reader decoded, by site, keyed by the
// commit of the site's status branch and the key its signature was checked
// against, so that a reader that evaluates again (the promoter in a daemon,
// a fleet view refreshing) re-reads and re-verifies only the reports that
// moved. Only reports that could be read are kept. A nil *ReportCache reads
// everything every time. It is safe for concurrent use.
type ReportCache struct {
	mu      sync.Mutex
	entries map[string]cachedReport
}

type cachedReport struct {
	key    string // branch commit and trust, see cacheKey
	report *Report
	signed bool
}

// NewReportCache returns an empty cache.
func NewReportCache() *ReportCache { return &ReportCache{entries: map[string]cachedReport{}} }

// ReadReports is ReadReports (the package function) through the cache.
func (c *ReportCache) ReadReports(ctx context.Context, src ReportSource) (map[string]*Report, map[string]error, error) {
	return readReports(ctx, src, c)
}

// ReadSignedReports is ReadSignedReports (the package function) through
// the cache.
func (c *ReportCache) ReadSignedReports(ctx context.Context, src SignedReportSource, trust *ReportTrust) (map[string]*Report, map[string]error, []string, error) {
	return readSignedReports(ctx, src, trust, c)
}

// cacheKey names what a cached report was read under: the branch's commit
// and, for signed reading, the site's declared key (or its absence and
// whether that was allowed).
func cacheKey(sha string, trust *ReportTrust, site string) string {
	switch {
	case trust == nil:
		return sha
	case trust.Keys[site] != nil:
		return sha + " " + ssh.FingerprintSHA256(trust.Keys[site])
	case trust.RequireSigned:
		return sha + " required"
	}
	return sha + " unsigned"
}

// get returns the cached report of site read under key.
func (c *ReportCache) get(site, key string) (cachedReport, bool) {
	if c == nil {
		return cachedReport{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[site]
	return e, ok && e.key == key
}

// put keeps the report of site read under key.
func (c *ReportCache) put(site string, e cachedReport) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[site] = e
}

// keep drops the sites whose branch is gone.
func (c *ReportCache) keep(heads map[string]string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for site := range c.entries {
		if _, ok := heads[Branch(site)]; !ok {
			delete(c.entries, site)
		}
	}
}
