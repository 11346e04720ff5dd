package gitsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestCommitSignedWithSigningKey: a commit made with Options.SigningKey
// carries an SSH signature that real git verifies against an
// allowed_signers file naming the key, and that git refuses with another
// key's file.
func TestCommitSignedWithSigningKey(t *testing.T) {
	f := newFixture(t, fleetFiles())
	dir := t.TempDir()
	key, err := testenv.WriteKeyPair(filepath.Join(dir, "promoter"), "promoter@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testenv.WriteKeyPair(filepath.Join(dir, "other"), "other@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	s := f.source(func(o *Options) { o.SigningKey = key.PrivatePath })
	sha, err := s.Commit(context.Background(), CommitRequest{Message: "promote web 1.1.0: dev -> staging", Change: bump("1.1.0")})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(pub string) (string, error) {
		allowed := filepath.Join(dir, "allowed_signers")
		if err := os.WriteFile(allowed, []byte("promoter@example.test "+pub+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return gitIn(f.srv.RepoPath(f.name), "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "--raw", sha)
	}
	if out, err := verify(key.AuthorizedKey); err != nil {
		t.Fatalf("git verify-commit with the signing key: %v\n%s", err, out)
	}
	if out, err := verify(other.AuthorizedKey); err == nil {
		t.Fatalf("git verify-commit accepts the commit with another key:\n%s", out)
	}
	opts := f.options()
	opts.SigningKey = filepath.Join(dir, "missing")
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Fatalf("a missing signing key: %v", err)
	}
}
