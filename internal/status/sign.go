package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"

	"github.com/syncd-dev/syncd/internal/signers"
)

// Signed reports (SPEC §7): a site signs the commit of its status branch
// with its key (--signing-key, an SSH signature as git makes with
// gpg.format=ssh, which covers the report through the commit's tree), and
// readers check it against the key the fleet repo declares for that site in
// SiteKeyFile. A compromised site so cannot fake another site's health.

// SiteKeyFile is where the fleet repo declares the public key (one
// authorized_keys line) that signs site's reports.
func SiteKeyFile(site string) string { return path.Join("sites", site, "site.pub") }

// ReportTrust says whose signature each site's report needs.
type ReportTrust struct {
	// Keys are the sites' declared keys, by site.
	Keys map[string]ssh.PublicKey
	// KeyErrors are the sites whose SiteKeyFile cannot be read as a key;
	// their reports are ignored.
	KeyErrors map[string]error
	// RequireSigned ignores the reports of sites that declare no key
	// (fleet.yaml spec.reports.requireSigned).
	RequireSigned bool
}

// LoadReportTrust reads every sites/<site>/site.pub of the fleet repo fsys.
func LoadReportTrust(fsys fs.FS, requireSigned bool) (*ReportTrust, error) {
	t := &ReportTrust{Keys: map[string]ssh.PublicKey{}, KeyErrors: map[string]error{}, RequireSigned: requireSigned}
	entries, err := fs.ReadDir(fsys, "sites")
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the site keys: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := SiteKeyFile(e.Name())
		data, err := fs.ReadFile(fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			var key ssh.PublicKey
			key, err = ParseSiteKey(file, data)
			if err == nil {
				t.Keys[e.Name()] = key
				continue
			}
		}
		t.KeyErrors[e.Name()] = err
	}
	return t, nil
}

// ParseSiteKey parses a SiteKeyFile: one public key in authorized_keys
// format (`ssh-ed25519 AAAA... comment`), # comments and blank lines aside.
// Errors name file and line.
func ParseSiteKey(file string, data []byte) (ssh.PublicKey, error) {
	var key ssh.PublicKey
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("%s:%d: a second key: a site declares one key", file, n+1)
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: public key: %w", file, n+1, err)
		}
		key = k
	}
	if key == nil {
		return nil, fmt.Errorf("%s: no public key", file)
	}
	return key, nil
}

// Check decides whether the report of site in commit c may be read: signed
// reports whether its signature was verified (false: read unsigned, the
// site declares no key). An error says why the report is ignored.
func (t *ReportTrust) Check(site string, c *object.Commit) (signed bool, err error) {
	if kerr := t.KeyErrors[site]; kerr != nil {
		return false, fmt.Errorf("report ignored: %w", kerr)
	}
	key := t.Keys[site]
	if key == nil {
		if t.RequireSigned {
			return false, fmt.Errorf("report ignored: the site declares no key (%s) and fleet.yaml sets spec.reports.requireSigned", SiteKeyFile(site))
		}
		return false, nil
	}
	as := &signers.AllowedSigners{Signers: []signers.Signer{{Principals: []string{site}, Key: key}}}
	if _, err := as.VerifyCommit(c); err != nil {
		return false, fmt.Errorf("report ignored: not signed by the key in %s: %w", SiteKeyFile(site), err)
	}
	return true, nil
}

// SignedReportSource is a ReportSource that also reads commit objects with
// their signatures; *gitsource.Source is one.
type SignedReportSource interface {
	ReportSource
	CommitObject(ctx context.Context, sha string) (*object.Commit, error)
}

// ReadSignedReports is ReadReports that also checks each report's signature
// against trust: a report that is unsigned, or signed by another key than
// its site declares, is left out and named in unreadable. unsigned lists the
// sites read without a signature because they declare no key.
func ReadSignedReports(ctx context.Context, src SignedReportSource, trust *ReportTrust) (reports map[string]*Report, unreadable map[string]error, unsigned []string, err error) {
	return readSignedReports(ctx, src, trust, nil)
}

func readSignedReports(ctx context.Context, src SignedReportSource, trust *ReportTrust, cache *ReportCache) (reports map[string]*Report, unreadable map[string]error, unsigned []string, err error) {
	heads, err := src.FetchBranches(ctx, BranchPrefix)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fetching the status branches: %w", err)
	}
	cache.keep(heads)
	reports, unreadable = map[string]*Report{}, map[string]error{}
	for branch, sha := range heads {
		site := strings.TrimPrefix(branch, BranchPrefix)
		key := cacheKey(sha, trust, site)
		if e, ok := cache.get(site, key); ok && trust.KeyErrors[site] == nil {
			if !e.signed {
				unsigned = append(unsigned, site)
			}
			reports[site] = e.report
			continue
		}
		r, signed, err := readSignedReport(ctx, src, trust, site, branch, sha)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, nil, ctx.Err()
			}
			unreadable[site] = err
			continue
		}
		if !signed {
			unsigned = append(unsigned, site)
		}
		cache.put(site, cachedReport{key: key, report: r, signed: signed})
		reports[site] = r
	}
	return reports, unreadable, unsigned, nil
}

func readSignedReport(ctx context.Context, src SignedReportSource, trust *ReportTrust, site, branch, sha string) (*Report, bool, error) {
	c, err := src.CommitObject(ctx, sha)
	if err != nil {
		return nil, false, fmt.Errorf("branch %s: %w", branch, err)
	}
	signed, err := trust.Check(site, c)
	if err != nil {
		return nil, false, fmt.Errorf("branch %s: %w", branch, err)
	}
	r, err := readReport(ctx, src, site, branch, sha)
	return r, signed, err
}
