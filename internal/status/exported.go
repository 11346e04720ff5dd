package status

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// An airgapped site cannot push its report (SPEC §8): `syncd bundle
// status-export` makes the very commit the site would have pushed to its
// status branch, signed with its key, and `syncd bundle status-import`
// publishes that commit unchanged on the connected side, after the checks
// below, so readers verify it exactly as a report the site pushed itself.

// CheckExported decides whether the commit c, brought as branch (which must
// be Branch(site) for some site) with files, is a status report that may be
// published: a single commit holding ReportFile alone, a report of that
// site, signed as trust requires. It returns the report and whether its
// signature was verified (false: the site declares no key).
func CheckExported(branch string, c *object.Commit, files map[string][]byte, trust *ReportTrust) (*Report, bool, error) {
	site, ok := strings.CutPrefix(branch, BranchPrefix)
	if !ok || site == "" || strings.Contains(site, "/") {
		return nil, false, fmt.Errorf("branch %s is not a status branch (%s<site>)", branch, BranchPrefix)
	}
	if len(c.ParentHashes) != 0 {
		return nil, false, fmt.Errorf("branch %s: commit %s has parents; a status branch is a single commit", branch, c.Hash)
	}
	if len(files) != 1 || files[ReportFile] == nil {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range files {
				if !yield(n) {
					return
				}
			}
		})
		return nil, false, fmt.Errorf("branch %s: commit %s holds %s, want %s alone", branch, c.Hash, strings.Join(names, ", "), ReportFile)
	}
	r, err := ParseReport(files[ReportFile])
	if err != nil {
		return nil, false, fmt.Errorf("branch %s: %w", branch, err)
	}
	if r.Site != site {
		return nil, false, fmt.Errorf("branch %s holds a report of site %q", branch, r.Site)
	}
	signed, err := trust.Check(site, c)
	if err != nil {
		return nil, false, fmt.Errorf("site %s: %w", site, err)
	}
	return r, signed, nil
}

// Supersedes reports whether the report next may replace prev on the
// status branch: it is not older (an exported report imported late, or
// twice, never rolls a site's status back).
func Supersedes(next, prev *Report) error {
	if prev == nil || !next.RefreshedAt.Before(prev.RefreshedAt) {
		return nil
	}
	return fmt.Errorf("the report of site %s was refreshed at %s, before the one already published (%s)", next.Site,
		next.RefreshedAt.UTC().Format("2006-01-02T15:04:05Z"), prev.RefreshedAt.UTC().Format("2006-01-02T15:04:05Z"))
}
