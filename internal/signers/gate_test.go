package signers

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestGate walks a branch whose head is signed by an allowed key, then by an
// unknown key, then unsigned, then signed again, with commits made by real
// git, and checks which revision the gate applies; then a gate restarted
// from a remembered revision.
func TestGate(t *testing.T) {
	dir := t.TempDir()
	allowedKey, allowedPub := sshKey(t, dir, "release")
	otherKey, _ := sshKey(t, dir, "intruder")
	as, err := Parse("allowed_signers", []byte("release@example.test "+allowedPub+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	if out, err := exec.Command("git", "init", "-q", repoDir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	commit := func(t *testing.T, id string) *object.Commit {
		t.Helper()
		repo, err := git.PlainOpen(repoDir)
		if err != nil {
			t.Fatal(err)
		}
		c, err := repo.CommitObject(plumbingHash(id))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lookup := func(sha string) (*object.Commit, error) { return commit(t, sha), nil }

	unsignedFirst := gitCommit(t, repoDir, "", "unsigned first")
	signed := gitCommit(t, repoDir, allowedKey, "signed")
	unknown := gitCommit(t, repoDir, otherKey, "by an intruder")
	unsigned := gitCommit(t, repoDir, "", "unsigned")
	openPGP := testenv.CommitAllOpenPGP(t, repoDir, "signed with OpenPGP", nil)
	signedAgain := gitCommit(t, repoDir, allowedKey, "signed again")

	g := NewGate(as, "")
	steps := []struct {
		name, head, want string
		held             bool
	}{
		{"unsigned with nothing verified", unsignedFirst, "", true},
		{"signed by an allowed key", signed, signed, false},
		{"signed by an unknown key", unknown, signed, true},
		{"unsigned after a signed one", unsigned, signed, true},
		{"signed with OpenPGP by an unknown key", openPGP, signed, true},
		{"signed again", signedAgain, signedAgain, false},
	}
	for _, s := range steps {
		c := g.Check(commit(t, s.head), lookup)
		if c.Head != s.head || c.Revision != s.want || c.Held() != s.held {
			t.Errorf("%s: got head %s revision %q held %v (%v), want revision %q held %v", s.name, c.Head, c.Revision, c.Held(), c.Err, s.want, s.held)
		}
		if !c.Held() && c.Signer == "" {
			t.Errorf("%s: no signer named", s.name)
		}
	}

	// A restart remembers the last verified revision: it is verified again
	// before being applied, and dropped when it does not verify.
	restarted := NewGate(as, signed).Check(commit(t, unsigned), lookup)
	if restarted.Revision != signed || !restarted.Held() || restarted.Signer == "" {
		t.Errorf("restarted gate: %+v, want to stay at %s", restarted, signed)
	}
	forged := NewGate(as, unknown).Check(commit(t, unsigned), lookup)
	if forged.Revision != "" {
		t.Errorf("a remembered revision that does not verify is applied: %+v", forged)
	}
}
