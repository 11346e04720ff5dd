package signers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// sshKey makes an ed25519 key pair with ssh-keygen and returns the private
// key file and the public key line.
func sshKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	file := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return file, strings.TrimSpace(string(pub))
}

// gitCommit commits an empty change in repo with real git, signed with key
// when key is not empty, and returns the commit id.
func gitCommit(t *testing.T, repo, key, msg string) string {
	t.Helper()
	args := []string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.test", "-c", "gpg.format=ssh"}
	if key != "" {
		args = append(args, "-c", "user.signingkey="+key, "commit", "-S")
	} else {
		args = append(args, "commit", "--no-gpg-sign")
	}
	args = append(args, "-q", "--allow-empty", "-m", msg)
	if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v: %s", err, out)
	}
	out, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestVerifyCommitSignedWithGit(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen (openssh-client, installed with openssh-server) is needed: %v", err)
	}
	dir := t.TempDir()
	allowedKey, allowedPub := sshKey(t, dir, "release")
	otherKey, _ := sshKey(t, dir, "intruder")
	bot, botPublic := testenv.OpenPGPKey(t, "ci-bot@example.test")
	as, err := Parse("allowed_signers", []byte("# release managers\nrelease@example.test namespaces=\"git\" "+allowedPub+"\n# the CI bot\n"+botPublic))
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	if out, err := exec.Command("git", "init", "-q", repoDir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	tests := []struct {
		name, key, wantErr, wantSigner string
		commit                         func(msg string) string
	}{
		{name: "signed by an allowed key", key: allowedKey, wantSigner: "release@example.test (SHA256:"},
		{name: "signed by an unknown key", key: otherKey, wantErr: "not an allowed signer"},
		{name: "unsigned after a signed one", wantErr: "is not signed"},
		{name: "signed with OpenPGP by an allowed key", wantSigner: "ci-bot@example.test (OPENPGP:", commit: func(msg string) string {
			return testenv.CommitAllOpenPGP(t, repoDir, msg, bot)
		}},
		{name: "signed with OpenPGP by an unknown key", wantErr: "is signed with OpenPGP by OpenPGP key ", commit: func(msg string) string {
			return testenv.CommitAllOpenPGP(t, repoDir, msg, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var id string
			if tt.commit != nil {
				id = tt.commit(tt.name)
			} else {
				id = gitCommit(t, repoDir, tt.key, tt.name)
			}
			s, err := as.VerifyCommit(commitIn(t, repoDir, id))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("VerifyCommit: %v", err)
			case tt.wantErr == "" && !strings.HasPrefix(Describe(s), tt.wantSigner):
				t.Errorf("signer = %s, want %s...", Describe(s), tt.wantSigner)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("VerifyCommit error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyCommitOpenPGPTampered: a commit whose content changed after it
// was signed with an allowed OpenPGP key fails as a bad signature.
func TestVerifyCommitOpenPGPTampered(t *testing.T) {
	bot, botPublic := testenv.OpenPGPKey(t, "ci-bot@example.test")
	as, err := Parse("allowed_signers", []byte(botPublic))
	if err != nil {
		t.Fatal(err)
	}
	repoDir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repoDir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	c := commitIn(t, repoDir, testenv.CommitAllOpenPGP(t, repoDir, "signed", bot))
	if _, err := as.VerifyCommit(c); err != nil {
		t.Fatalf("VerifyCommit of the signed commit: %v", err)
	}
	c.Message = "tampered"
	if _, err := as.VerifyCommit(c); err == nil || !strings.Contains(err.Error(), "bad OpenPGP signature") {
		t.Fatalf("VerifyCommit of a tampered commit error = %v, want a bad OpenPGP signature", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ data, want string }{
		{"a@x cert-authority ssh-ed25519 AAAA", "f:1: option cert-authority: not supported yet"},
		{"\n\na@x ssh-ed25519 !!!", "f:3: public key:"},
		{"# nothing\n", "f: no allowed signer"},
		{"justone", "f:1: "},
		{"# bot\n" + pgpKeyBegin + "\n\nnot base64\n" + pgpKeyEnd + "\n", "f:2: OpenPGP public key block: "},
		{pgpKeyBegin + "\n\nmQ\n", "f:1: OpenPGP public key block without " + pgpKeyEnd},
	} {
		_, err := Parse("f", []byte(tt.data))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want prefix %q", tt.data, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("a@x namespaces=\"git,file\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBa8Zx9xJ1Z7b0bS8bKqvYy0Xq9xL2xH3n5y9pQ2Wq2u c\n"))
	f.Add([]byte("# c\n\n*@x ssh-rsa AAAA"))
	_, public := testenv.OpenPGPKey(f, "bot@x")
	f.Add([]byte(public))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := Parse("f", data)
		if err == nil && (as == nil || len(as.Signers) == 0) {
			t.Fatal("no signers without an error")
		}
	})
}

func plumbingHash(id string) plumbing.Hash { return plumbing.NewHash(id) }

// commitIn reads commit id of the repository in dir with go-git.
func commitIn(t *testing.T, dir, id string) *object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(plumbingHash(id))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignatureFormat(t *testing.T) {
	for _, tt := range []struct{ sig, want string }{
		{"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", "ssh"},
		{"-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n", "openpgp"},
		{"-----BEGIN PGP MESSAGE-----\nowE\n-----END PGP MESSAGE-----", "openpgp"},
		{"-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----\n", "x509"},
		// A PGP signature that mentions SSH further down is still OpenPGP.
		{"-----BEGIN PGP SIGNATURE-----\nComment: BEGIN SSH SIGNATURE\n-----END PGP SIGNATURE-----\n", "openpgp"},
		{"garbage", ""},
	} {
		if got := signatureFormat(tt.sig); got != tt.want {
			t.Errorf("signatureFormat(%q) = %q, want %q", tt.sig, got, tt.want)
		}
	}
}
