package testenv

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
)

// KeyPair is an OpenSSH key pair written to disk.
type KeyPair struct {
	// PrivatePath is the private key in OpenSSH format (mode 0600).
	PrivatePath string
	// PublicPath is the authorized_keys-format public key.
	PublicPath string
	// AuthorizedKey is the public key line, without a trailing newline.
	AuthorizedKey string
	// Fingerprint is the SHA256 fingerprint, as ssh-keygen -l prints it.
	Fingerprint string
	// Signer signs with the private key.
	Signer ssh.Signer
}

// WriteKeyPair generates an ed25519 key and writes it to path and path.pub.
// A non-empty passphrase encrypts the private key.
func WriteKeyPair(path, comment, passphrase string) (*KeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ed25519 key: %w", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, comment)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, comment, []byte(passphrase))
	}
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("writing private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	line := string(ssh.MarshalAuthorizedKey(sshPub))
	line = line[:len(line)-1] + " " + comment
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("writing public key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("building signer: %w", err)
	}
	return &KeyPair{
		PrivatePath:   path,
		PublicPath:    path + ".pub",
		AuthorizedKey: line,
		Fingerprint:   ssh.FingerprintSHA256(sshPub),
		Signer:        signer,
	}, nil
}
