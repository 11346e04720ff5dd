package gitsource

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// writeKey writes priv as an OpenSSH private key file and returns its path
// and authorized_keys line.
func writeKey(t *testing.T, priv any, passphrase string) (string, string) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "identity")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
}

func TestIdentityKinds(t *testing.T) {
	f := newFixture(t, fleetFiles())
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	protected, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "protected"), "protected", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.AuthorizeKey(protected.AuthorizedKey); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ecPath, ecLine := writeKey(t, ecKey, "")
	rsaPath, rsaLine := writeKey(t, rsaKey, "")
	for _, line := range []string{ecLine, rsaLine} {
		if err := f.srv.AuthorizeKey(line); err != nil {
			t.Fatal(err)
		}
	}
	want := f.remote("rev-parse", "main")

	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string
	}{
		{name: "ecdsa", edit: func(o *Options) { o.IdentityFile = ecPath }},
		{name: "rsa", edit: func(o *Options) { o.IdentityFile = rsaPath }},
		{name: "ed25519 with passphrase", edit: func(o *Options) { o.IdentityFile = protected.PrivatePath; o.Passphrase = "s3cret" }},
		{name: "ed25519 with passphrase file", edit: func(o *Options) { o.IdentityFile = protected.PrivatePath; o.PassphraseFile = passFile }},
		{
			name:    "encrypted without passphrase",
			edit:    func(o *Options) { o.IdentityFile = protected.PrivatePath },
			wantErr: "is encrypted: give its passphrase in $SYNCD_IDENTITY_PASSPHRASE",
		},
		{
			name:    "wrong passphrase",
			edit:    func(o *Options) { o.IdentityFile = protected.PrivatePath; o.Passphrase = "nope" },
			wantErr: "cannot decrypt it with the passphrase given",
		},
		{
			name:    "not a key",
			edit:    func(o *Options) { o.IdentityFile = passFile },
			wantErr: "is not an OpenSSH or PEM private key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.options()
			tc.edit(&opts)
			s, err := New(opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v; want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rev, _, err := s.Fetch(context.Background())
			if err != nil || rev.SHA != want {
				t.Fatalf("Fetch = %s, %v; want %s", rev.SHA, err, want)
			}
		})
	}
}

func TestKnownAlgorithmsFollowKnownHosts(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	ecPub, _ := ssh.NewPublicKey(&ecKey.PublicKey)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	content := KnownHostsLine("git.example.com:22", rsaPub) + "\n" + KnownHostsLine("[10.0.0.1]:2222", ecPub) + "\n"
	if err := os.WriteFile(kh, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want []string
	}{
		{"git.example.com:22", []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{"10.0.0.1:2222", []string{ssh.KeyAlgoECDSA384}},
		{"other.example.com:22", nil},
	}
	for _, tc := range tests {
		_, algos, err := (&hostKeyCheck{file: kh, addr: tc.addr}).callback()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(algos, ",") != strings.Join(tc.want, ",") {
			t.Errorf("algorithms for %s = %v, want %v", tc.addr, algos, tc.want)
		}
	}
}
