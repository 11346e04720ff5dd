package signers

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// Check is the outcome of verifying a tracked-branch head (SPEC §7): the
// revision the site applies, and why the head was refused when it was.
type Check struct {
	// Head is the branch head that was checked.
	Head string
	// Revision is what the site applies: Head when it verified, else the
	// last verified revision; empty when no revision was ever verified.
	Revision string
	// Signer names who signed Revision (principals and key fingerprint).
	Signer string
	// Err says why Head was refused; nil when it verified.
	Err error
}

// Held reports whether the site stays at an older revision (or at none)
// because the head did not verify.
func (c Check) Held() bool { return c.Err != nil }

// Gate decides which revision a verifying site applies: the head when an
// allowed signer signed it, else the last revision that verified. It holds
// no I/O: commits are handed to it. It is safe for concurrent use.
type Gate struct {
	signers *AllowedSigners

	mu sync.Mutex
	// last is the last verified revision and lastSigner its signer.
	last, lastSigner string
	// recheck is set while last was remembered from an earlier run and not
	// verified again by this Gate.
	recheck bool
}

// NewGate returns a Gate over signers that starts from remembered, the last
// verified revision of an earlier run ("" for none). remembered is verified
// again before it is applied.
func NewGate(signers *AllowedSigners, remembered string) *Gate {
	return &Gate{signers: signers, last: remembered, recheck: remembered != ""}
}

// Check verifies head. When head does not verify, the last verified revision
// is kept; a remembered one is read with lookup and verified first, and is
// dropped when it no longer verifies (its signer was removed).
func (g *Gate) Check(head *object.Commit, lookup func(sha string) (*object.Commit, error)) Check {
	g.mu.Lock()
	defer g.mu.Unlock()
	sha := head.Hash.String()
	s, err := g.signers.VerifyCommit(head)
	if err == nil {
		g.last, g.lastSigner, g.recheck = sha, Describe(s), false
		return Check{Head: sha, Revision: sha, Signer: g.lastSigner}
	}
	if g.recheck && g.last != "" && g.last != sha {
		g.recheck = false
		c, lerr := lookup(g.last)
		if lerr == nil {
			s, lerr = g.signers.VerifyCommit(c)
		}
		if lerr != nil {
			g.last, g.lastSigner = "", ""
		} else {
			g.lastSigner = Describe(s)
		}
	}
	if g.last == sha { // the remembered revision is the head and no longer verifies
		g.last, g.lastSigner = "", ""
	}
	return Check{Head: sha, Revision: g.last, Signer: g.lastSigner, Err: err}
}

// Describe names an allowed signer: its principals and key fingerprint.
func Describe(s *Signer) string {
	return fmt.Sprintf("%s (%s)", strings.Join(s.Principals, ","), s.Fingerprint())
}
