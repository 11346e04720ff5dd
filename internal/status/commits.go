package status

import "github.com/syncd-dev/syncd/internal/signers"

// Commits is what commit verification (--verify-commits, SPEC §7) decided
// at the site's last fetch. It is kept with the site status in the cluster,
// which is where a restarted syncd finds its last verified revision.
type Commits struct {
	// Verified is the last verified revision: the one the site applies.
	// Empty when no revision verified yet.
	Verified string `json:"verified,omitempty" yaml:"verified,omitempty"`
	// Signer names who signed Verified.
	Signer string `json:"signer,omitempty" yaml:"signer,omitempty"`
	// Head is the tracked branch's head at the last fetch.
	Head string `json:"head,omitempty" yaml:"head,omitempty"`
	// Refused says why Head is not applied; empty when Head verified.
	Refused string `json:"refused,omitempty" yaml:"refused,omitempty"`
}

// NewCommits records check; nil for nil.
func NewCommits(check *signers.Check) *Commits {
	if check == nil {
		return nil
	}
	c := &Commits{Verified: check.Revision, Signer: check.Signer, Head: check.Head}
	if check.Err != nil {
		c.Refused = check.Err.Error()
	}
	return c
}

// Held reports whether the site stays behind its branch head because the
// head did not verify.
func (c *Commits) Held() bool { return c != nil && c.Refused != "" }

// String says in one line what the site applies and why.
func (c *Commits) String() string {
	switch {
	case c == nil:
		return ""
	case !c.Held():
		return "head " + short(c.Head) + " verified, signed by " + c.Signer
	case c.Verified == "":
		return "head " + short(c.Head) + " not applied: " + c.Refused + "; no verified revision to apply"
	}
	return "head " + short(c.Head) + " not applied: " + c.Refused + "; staying at the last verified revision " + short(c.Verified)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
