package cli

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// cliRun is one in-process run of the command line.
type cliRun struct {
	code           int
	stdout, stderr string
}

func runCLI(args ...string) cliRun {
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return cliRun{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestKeygenWritesDeployKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys") // created by keygen
	r := runCLI("keygen", "--out", dir, "--comment", "site-a")
	if r.code != ExitOK {
		t.Fatalf("keygen: exit %d\n%s", r.code, r.stderr)
	}
	for name, mode := range map[string]fs.FileMode{"identity": 0o600, "identity.pub": 0o644} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", name, info.Mode().Perm(), mode)
		}
	}
	pem, err := os.ReadFile(filepath.Join(dir, "identity"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatalf("identity is not an OpenSSH private key: %v", err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Fatalf("key type %s, want ed25519", signer.PublicKey().Type())
	}
	pubFile, err := os.ReadFile(filepath.Join(dir, "identity.pub"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(r.stdout)
	if string(pubFile) != line+"\n" || !strings.HasSuffix(line, " site-a") {
		t.Fatalf("stdout %q, identity.pub %q: want the same public key line ending in the comment", r.stdout, pubFile)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Fatalf("printed key does not match the private key (%v)", err)
	}
	for _, want := range []string{"deploy key", "write access if the site publishes its status report there", "runs the promoter", "read-only when its reports go to a separate --status-repo",
		"--status-identity", "sites/<site>/site.pub", "--verify-commits"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
}

func TestKeygenRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if r := runCLI("keygen", "--out", dir); r.code != ExitOK {
		t.Fatalf("first keygen: exit %d\n%s", r.code, r.stderr)
	}
	before, err := os.ReadFile(filepath.Join(dir, "identity"))
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI("keygen", "--out", dir)
	if r.code != ExitError || !strings.Contains(r.stderr, "already exists: pass --force") || r.stdout != "" {
		t.Fatalf("second keygen without --force: %+v", r)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "identity")); !bytes.Equal(before, after) {
		t.Fatal("keygen without --force changed the existing key")
	}

	// Only the public half left behind also counts as existing.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "identity.pub"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("keygen", "--out", other); r.code != ExitError {
		t.Fatalf("keygen over a lone identity.pub: exit %d", r.code)
	}

	// --force replaces, with the right mode even if the old file was looser.
	if err := os.Chmod(filepath.Join(dir, "identity"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI("keygen", "--out", dir, "--force"); r.code != ExitOK {
		t.Fatalf("keygen --force: exit %d\n%s", r.code, r.stderr)
	}
	after, err := os.ReadFile(filepath.Join(dir, "identity"))
	if err != nil || bytes.Equal(before, after) {
		t.Fatalf("keygen --force did not replace the key (%v)", err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "identity")); info.Mode().Perm() != 0o600 {
		t.Fatalf("replaced identity mode = %v, want 0600", info.Mode().Perm())
	}
}

func TestKeygenNeedsOut(t *testing.T) {
	if r := runCLI("keygen"); r.code != ExitError || !strings.Contains(r.stderr, "--out is required") {
		t.Fatalf("keygen without --out: %+v", r)
	}
}

func TestKeygenKeyWorksAsDeployKey(t *testing.T) {
	srv := testenv.NewGitServer(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "fleet.yaml"), []byte("kind: Fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", src)
	dir := t.TempDir()
	r := runCLI("keygen", "--out", dir)
	if r.code != ExitOK {
		t.Fatalf("keygen: %+v", r)
	}
	if err := srv.AuthorizeKey(r.stdout); err != nil {
		t.Fatal(err)
	}
	s, err := gitsource.New(gitsource.Options{
		URL: url, IdentityFile: filepath.Join(dir, "identity"), KnownHostsFile: srv.KnownHosts, CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch with the generated key: %v", err)
	}
}
