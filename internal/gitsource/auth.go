package gitsource

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// PassphraseEnv is the environment variable the CLI reads the identity's
// passphrase from, when the identity is encrypted.
const PassphraseEnv = "SYNCD_IDENTITY_PASSPHRASE"

// identity is the deploy key syncd authenticates with.
type identity struct {
	path        string
	signer      ssh.Signer
	fingerprint string
}

// loadIdentity reads an OpenSSH or PEM private key (ed25519, ECDSA or RSA),
// decrypting it with passphrase when it is encrypted.
func loadIdentity(path string, passphrase []byte) (*identity, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading identity: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && len(passphrase) == 0:
		return nil, fmt.Errorf("identity %s is encrypted: give its passphrase in $%s or a passphrase file", path, PassphraseEnv)
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, passphrase)
		if err != nil {
			return nil, fmt.Errorf("identity %s: cannot decrypt it with the passphrase given: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("identity %s is not an OpenSSH or PEM private key: %w", path, err)
	}
	return &identity{path: path, signer: signer, fingerprint: ssh.FingerprintSHA256(signer.PublicKey())}, nil
}

// readPassphrase returns the passphrase given inline or in a file (without
// its trailing newline).
func readPassphrase(inline, file string) ([]byte, error) {
	if file == "" {
		return []byte(inline), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase file: %w", err)
	}
	return []byte(strings.TrimRight(string(data), "\r\n")), nil
}

// hostKeyCheck verifies one connection's host key against a known_hosts file
// (re-read for every connection, so an updated Secret takes effect without a
// restart) and remembers why it refused one.
type hostKeyCheck struct {
	file     string
	insecure bool
	addr     string

	mu  sync.Mutex
	err error
}

// callback returns the HostKeyCallback for the connection and the host key
// algorithms to ask for: those of the keys known_hosts has for the host, so
// that a server with several host keys offers the one we can verify.
func (h *hostKeyCheck) callback() (ssh.HostKeyCallback, []string, error) {
	if h.insecure {
		return ssh.InsecureIgnoreHostKey(), nil, nil
	}
	known, err := knownhosts.New(h.file)
	if err != nil {
		return nil, nil, fmt.Errorf("reading known_hosts file: %w", err)
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := known(hostname, remote, key)
		if err == nil {
			return nil
		}
		err = h.describe(knownhosts.Normalize(hostname), key, err)
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		return err
	}
	return check, knownAlgorithms(known, h.addr), nil
}

// failure is the refusal recorded by the callback, if any.
func (h *hostKeyCheck) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *hostKeyCheck) describe(host string, offered ssh.PublicKey, err error) error {
	got := ssh.FingerprintSHA256(offered)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &revoked):
		return newError(ErrHostKeyMismatch, err, "host key mismatch for %s: server offered %s, which %s marks as revoked", host, got, h.file)
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return newError(ErrUnknownHost, err,
			"unknown host %s: not in known_hosts file %s (server offered %s); check that fingerprint with the server's operator, then add the line `syncd known-hosts %s` prints",
			host, h.file, got, h.addr)
	case errors.As(err, &keyErr):
		want := make([]string, len(keyErr.Want))
		for i, k := range keyErr.Want {
			want[i] = ssh.FingerprintSHA256(k.Key)
		}
		return newError(ErrHostKeyMismatch, err,
			"host key mismatch for %s: server offered %s, known_hosts has %s (%s); if the server's key was rotated, check the new fingerprint with its operator and replace the line with what `syncd known-hosts %s` prints",
			host, got, strings.Join(want, ", "), h.file, h.addr)
	}
	return err
}

// knownAlgorithms lists the host key algorithms of the keys known has for
// addr, by asking it to verify a throwaway key (the refusal lists them).
func knownAlgorithms(known ssh.HostKeyCallback, addr string) []string {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(known(addr, &net.TCPAddr{}, probe), &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a key type to the signature algorithms that use it.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// sshAuth is go-git's SSH auth method for one connection: the deploy key,
// the host key check and a dial timeout.
type sshAuth struct {
	user    string
	id      *identity
	hosts   *hostKeyCheck
	timeout time.Duration
}

var _ gitssh.AuthMethod = (*sshAuth)(nil)

// Name names the auth method for go-git.
func (a *sshAuth) Name() string { return gitssh.PublicKeysName }

// String describes the auth method without secrets.
func (a *sshAuth) String() string {
	return fmt.Sprintf("user: %s, deploy key: %s", a.user, a.id.fingerprint)
}

// ClientConfig is called by go-git for each connection.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	cb, algos, err := a.hosts.callback()
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(a.id.signer)},
		HostKeyCallback:   cb,
		HostKeyAlgorithms: algos,
		Timeout:           a.timeout,
	}, nil
}
