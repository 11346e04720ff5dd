package gitsource

import (
	"bytes"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// loadSigningKey reads the SSH private key that signs the Source's commits
// (Options.SigningKey); it must not be encrypted.
func loadSigningKey(path string) (ssh.Signer, error) {
	id, err := loadIdentity(path, nil)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return id.signer, nil
}

// signCommit signs c as `git commit -S` does with gpg.format=ssh: an SSH
// signature (namespace "git", SHA-512) of the commit without its signature,
// armored into the gpgsig header.
func signCommit(c *object.Commit, signer ssh.Signer) error {
	o := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(o); err != nil {
		return fmt.Errorf("signing commit: %w", err)
	}
	r, err := o.Reader()
	if err != nil {
		return fmt.Errorf("signing commit: %w", err)
	}
	defer r.Close()
	payload, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("signing commit: %w", err)
	}
	sig, err := sshsig.Sign(bytes.NewReader(payload), signer, sshsig.HashSHA512, "git")
	if err != nil {
		return fmt.Errorf("signing commit: %w", err)
	}
	c.PGPSignature = string(sshsig.Armor(sig))
	return nil
}

// LoadSigningKey reads an SSH private key file (not encrypted) that signs
// what syncd writes: commits (Options.SigningKey), bundles.
func LoadSigningKey(path string) (ssh.Signer, error) { return loadSigningKey(path) }
