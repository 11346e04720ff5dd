package status

import (
	"context"
	"fmt"
	"strings"
)

// BranchPrefix starts the name of every status branch (Branch).
const BranchPrefix = "syncd/status/"

// ReportSource is the fleet repo as report readers use it;
// *gitsource.Source is one.
type ReportSource interface {
	// FetchBranches fetches every branch whose name starts with prefix in
	// one round trip and returns their head commits by branch name.
	FetchBranches(ctx context.Context, prefix string) (map[string]string, error)
	// ReadFileAt returns the content of file name in a fetched commit.
	ReadFileAt(ctx context.Context, sha, name string) ([]byte, error)
}

// ReadReports fetches every site's status branch in one round trip and
// decodes the reports, by site. A report that cannot be read (no
// ReportFile, undecodable, a format this syncd does not know, or a branch
// whose report names another site) is left out and its error given in
// unreadable, by site; it never stops the others from being read. err is
// set only when the branches could not be fetched at all.
func ReadReports(ctx context.Context, src ReportSource) (reports map[string]*Report, unreadable map[string]error, err error) {
	return readReports(ctx, src, nil)
}

func readReports(ctx context.Context, src ReportSource, cache *ReportCache) (reports map[string]*Report, unreadable map[string]error, err error) {
	heads, err := src.FetchBranches(ctx, BranchPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the status branches: %w", err)
	}
	cache.keep(heads)
	reports, unreadable = map[string]*Report{}, map[string]error{}
	for branch, sha := range heads {
		site := strings.TrimPrefix(branch, BranchPrefix)
		key := cacheKey(sha, nil, site)
		if e, ok := cache.get(site, key); ok {
			reports[site] = e.report
			continue
		}
		r, err := readReport(ctx, src, site, branch, sha)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			unreadable[site] = err
			continue
		}
		cache.put(site, cachedReport{key: key, report: r})
		reports[site] = r
	}
	return reports, unreadable, nil
}

// readReport reads the report of site from commit sha of its branch.
func readReport(ctx context.Context, src ReportSource, site, branch, sha string) (*Report, error) {
	data, err := src.ReadFileAt(ctx, sha, ReportFile)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	r, err := ParseReport(data)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %s: %w", branch, ReportFile, err)
	}
	if r.Site != site {
		return nil, fmt.Errorf("branch %s: %s: the report is of site %q", branch, ReportFile, r.Site)
	}
	return r, nil
}
