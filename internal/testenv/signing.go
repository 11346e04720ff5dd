package testenv

import (
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitAll commits every change in the work tree dir with real git and
// returns the commit id. With key (an SSH private key file) the commit is
// SSH-signed as `git -c gpg.format=ssh commit -S` signs it; with "" it is
// unsigned.
func CommitAll(t testing.TB, dir, key, msg string) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	if key == "" {
		Git(t, dir, "commit", "--quiet", "--allow-empty", "--no-gpg-sign", "-m", msg)
	} else {
		Git(t, dir, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "--quiet", "--allow-empty", "-S", "-m", msg)
	}
	return Git(t, dir, "rev-parse", "HEAD")
}

// CommitAllOpenPGP commits every change in the work tree dir with an
// OpenPGP signature (git's default gpg.format) by a key generated here, and
// returns the commit id. The changes are staged with real git; the commit is
// made by go-git, whose signature is what `git commit -S` with gpg writes
// (an armored detached signature in the gpgsig header), without needing a
// gpg agent.
func CommitAllOpenPGP(t testing.TB, dir, msg string) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	entity, err := openpgp.NewEntity("syncd test", "", "test@syncd.dev", nil)
	if err != nil {
		t.Fatalf("generating an OpenPGP key: %v", err)
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	who := &object.Signature{Name: "syncd test", Email: "test@syncd.dev", When: time.Now()}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: who, Committer: who, SignKey: entity, AllowEmptyCommits: true})
	if err != nil {
		t.Fatalf("committing with an OpenPGP signature: %v", err)
	}
	return h.String()
}
