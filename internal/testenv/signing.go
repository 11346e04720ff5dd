package testenv

import (
	"bytes"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
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

// OpenPGPKey generates an OpenPGP key for email and returns it with its
// ASCII-armored public key block, as `gpg --armor --export` prints it.
func OpenPGPKey(t testing.TB, email string) (*openpgp.Entity, string) {
	t.Helper()
	entity, err := openpgp.NewEntity("syncd test", "", email, nil)
	if err != nil {
		t.Fatalf("generating an OpenPGP key: %v", err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := entity.Serialize(w); err != nil {
		t.Fatalf("exporting an OpenPGP public key: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return entity, buf.String() + "\n"
}

// CommitAllOpenPGP commits every change in the work tree dir with an
// OpenPGP signature (git's default gpg.format) by key (a key generated here
// when nil), and returns the commit id. The changes are staged with real
// git; the commit is made by go-git, whose signature is what `git commit -S`
// with gpg writes (an armored detached signature in the gpgsig header),
// without needing a gpg agent.
func CommitAllOpenPGP(t testing.TB, dir, msg string, key *openpgp.Entity) string {
	t.Helper()
	Git(t, dir, "add", "-A")
	if key == nil {
		key, _ = OpenPGPKey(t, "test@syncd.dev")
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
	h, err := wt.Commit(msg, &git.CommitOptions{Author: who, Committer: who, SignKey: key, AllowEmptyCommits: true})
	if err != nil {
		t.Fatalf("committing with an OpenPGP signature: %v", err)
	}
	return h.String()
}
