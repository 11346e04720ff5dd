package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// trust is the demo's commit and report signing (SPEC §7): a release key
// that signs the commits people make, one key per site that signs its status
// reports (its public half committed as sites/<site>/site.pub), and the
// allowed_signers file every site verifies the fleet repo's head with. The
// first site runs the promoter, whose bumps its own key signs: that key is
// an allowed signer too.
type trust struct {
	release        *testenv.KeyPair
	siteKeys       map[string]*testenv.KeyPair
	allowedSigners string
	reports        *status.ReportTrust
}

// releaseSigner is the principal of the release key in allowed_signers.
const releaseSigner = "release@syncd-demo"

// makeKeys generates the demo's signing keys into the work directory,
// commits each site's public key as sites/<site>/site.pub in the demo's copy
// of the fleet repo and writes allowed_signers.
func (d *demo) makeKeys() error {
	dir := filepath.Join(d.work, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	t := &trust{siteKeys: map[string]*testenv.KeyPair{}, allowedSigners: filepath.Join(dir, "allowed_signers")}
	var err error
	if t.release, err = testenv.WriteKeyPair(filepath.Join(dir, "release"), releaseSigner, ""); err != nil {
		return err
	}
	lines := []string{"# who may sign the fleet repo's head: the release engineer, and the promoter (site " + d.opts.sites[0] + "'s key)",
		releaseSigner + " " + t.release.AuthorizedKey}
	for i, site := range d.opts.sites {
		key, err := testenv.WriteKeyPair(filepath.Join(dir, site), site+"@syncd-demo", "")
		if err != nil {
			return err
		}
		t.siteKeys[site] = key
		siteDir := filepath.Join(d.seed, "sites", site)
		if _, err := os.Stat(siteDir); err != nil {
			return fmt.Errorf("site %s: %w", site, err)
		}
		if err := os.WriteFile(filepath.Join(siteDir, "site.pub"), []byte(key.AuthorizedKey+"\n"), 0o644); err != nil {
			return err
		}
		if i == 0 {
			lines = append(lines, "promoter@"+site+" "+key.AuthorizedKey)
		}
	}
	if err := os.WriteFile(t.allowedSigners, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if t.reports, err = status.LoadReportTrust(os.DirFS(d.seed), false); err != nil {
		return err
	}
	d.trust = t
	d.step("generating signing keys in %s: %s signs the commits people make; each site signs its status reports with its own key (public half committed as sites/<site>/site.pub); every site runs with --verify-commits %s and applies only heads signed by the release key or the promoter's (site %s's key)",
		dir, filepath.Base(t.release.PrivatePath), t.allowedSigners, d.opts.sites[0])
	return nil
}

// siteFlags are the signing flags of site's syncd.
func (t *trust) siteFlags(site string) []string {
	return []string{"--verify-commits", t.allowedSigners, "--signing-key", t.siteKeys[site].PrivatePath}
}

// signFlags are the git options that sign a commit with the release key, as
// a person does with `git config gpg.format ssh` and user.signingkey.
func (t *trust) signFlags() []string {
	return []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + t.release.PrivatePath}
}

// checkReport verifies the signature of site's status report, commit sha
// of the bare repository gitDir, against the key in sites/<site>/site.pub.
func (t *trust) checkReport(gitDir, site, sha string) error {
	repo, err := git.PlainOpen(gitDir)
	if err != nil {
		return err
	}
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return err
	}
	signed, err := t.reports.Check(site, c)
	if err == nil && !signed {
		err = fmt.Errorf("report read unsigned: the site declares no key")
	}
	return err
}

// commitVerification says what site s's syncd decided about the fleet
// repo's head, from its status in its cluster.
func commitVerification(ctx context.Context, s *site) string {
	st, err := status.NewStore(s.cluster.Client, "syncd-system", s.name).Load(ctx)
	switch {
	case err != nil:
		return "cannot read its status: " + err.Error()
	case st == nil || st.Commits == nil:
		return "no commit verification recorded"
	}
	return "commit verification: " + st.Commits.String()
}
