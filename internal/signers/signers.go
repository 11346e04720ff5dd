// Package signers verifies the signatures of fleet repo commits for
// --verify-commits (SPEC §7): a site applies only a tracked-branch head that
// an allowed key signed. The allowed keys are an allowed_signers file in
// git's format (gpg.ssh.allowedSignersFile) for SSH signatures, which may
// also hold ASCII-armored OpenPGP public key blocks for OpenPGP signatures.
package signers

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// gitNamespace is the sshsig namespace git signs commits in.
const gitNamespace = "git"

// Signer is one line of an allowed_signers file.
type Signer struct {
	// Principals are the identities the key may sign as (e-mail addresses,
	// patterns).
	Principals []string
	// Key is the allowed SSH public key; nil for an OpenPGP signer.
	Key ssh.PublicKey
	// OpenPGP is the allowed OpenPGP key; nil for an SSH signer.
	OpenPGP *openpgp.Entity
	// Namespaces, when set, are the signature namespaces the key is allowed
	// for; empty allows all.
	Namespaces []string
	// Line is the line in the file.
	Line int
}

// AllowedSigners are the keys allowed to sign commits.
type AllowedSigners struct {
	// Signers are in file order.
	Signers []Signer
}

// Fingerprint names the signer's key: SHA256:... for SSH keys (as
// ssh-keygen prints them), OPENPGP:<hex> for OpenPGP keys.
func (s *Signer) Fingerprint() string {
	if s.OpenPGP != nil {
		return openPGPFingerprint(s.OpenPGP)
	}
	return ssh.FingerprintSHA256(s.Key)
}

func openPGPFingerprint(e *openpgp.Entity) string {
	return fmt.Sprintf("OPENPGP:%X", e.PrimaryKey.Fingerprint)
}

const (
	pgpKeyBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	pgpKeyEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
)

// Load reads an allowed_signers file.
func Load(file string) (*AllowedSigners, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading allowed signers: %w", err)
	}
	return Parse(file, data)
}

// Parse parses the allowed_signers format of ssh-keygen(1): one key per
// line, `principals [options] keytype base64-key [comment]`, with # comments.
// Of the options only namespaces="..." is supported; the others, such as
// cert-authority and valid-before, fail with "not supported yet". Between
// the lines, ASCII-armored OpenPGP public key blocks (`gpg --armor --export`)
// allow OpenPGP signatures by those keys; their principals are the e-mail
// addresses of the keys' identities. Errors name file and line.
func Parse(file string, data []byte) (*AllowedSigners, error) {
	as := &AllowedSigners{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var errs []error
	var block strings.Builder // an OpenPGP key block being read
	blockLine := 0
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case blockLine > 0:
			block.WriteString(line + "\n")
			if line == pgpKeyEnd {
				signers, err := parseOpenPGP(block.String())
				if err != nil {
					errs = append(errs, fmt.Errorf("%s:%d: OpenPGP public key block: %w", file, blockLine, err))
				}
				for _, s := range signers {
					s.Line = blockLine
					as.Signers = append(as.Signers, s)
				}
				block.Reset()
				blockLine = 0
			}
			continue
		case line == pgpKeyBegin:
			block.WriteString(line + "\n")
			blockLine = n
			continue
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", file, n, err))
			continue
		}
		s.Line = n
		as.Signers = append(as.Signers, s)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	if blockLine > 0 {
		errs = append(errs, fmt.Errorf("%s:%d: OpenPGP public key block without %s", file, blockLine, pgpKeyEnd))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(as.Signers) == 0 {
		return nil, fmt.Errorf("%s: no allowed signer", file)
	}
	return as, nil
}

// parseOpenPGP reads one armored OpenPGP public key block: a signer per key
// in it, with the e-mail addresses of its identities as principals.
func parseOpenPGP(armored string) ([]Signer, error) {
	list, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armored))
	if err != nil {
		return nil, err
	}
	var out []Signer
	for _, e := range list {
		if e.PrivateKey != nil {
			return nil, errors.New("holds a private key: list public keys only (gpg --armor --export)")
		}
		s := Signer{OpenPGP: e}
		for _, id := range e.Identities {
			if id.UserId != nil && id.UserId.Email != "" {
				s.Principals = append(s.Principals, id.UserId.Email)
			}
		}
		if len(s.Principals) == 0 {
			s.Principals = []string{openPGPFingerprint(e)}
		}
		out = append(out, s)
	}
	return out, nil
}

func parseLine(line string) (Signer, error) {
	principals, rest, ok := cutField(line)
	if !ok || principals == "" {
		return Signer{}, errors.New("want: principals [options] keytype key")
	}
	s := Signer{Principals: strings.Split(principals, ",")}
	// Options come before the key type when the next field is not one.
	if first, after, _ := cutField(rest); first != "" && !isKeyType(first) {
		if err := s.parseOptions(first); err != nil {
			return Signer{}, err
		}
		rest = after
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return Signer{}, fmt.Errorf("public key: %w", err)
	}
	s.Key = key
	return s, nil
}

func (s *Signer) parseOptions(opts string) error {
	for _, opt := range splitOptions(opts) {
		name, value, _ := strings.Cut(opt, "=")
		switch strings.ToLower(name) {
		case "namespaces":
			s.Namespaces = strings.Split(strings.Trim(value, `"`), ",")
		default:
			return fmt.Errorf("option %s: not supported yet", name)
		}
	}
	return nil
}

// cutField splits off the first whitespace-separated field of s; quoted
// strings (in options) do not split.
func cutField(s string) (field, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	quoted := false
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			return s[:i], strings.TrimLeft(s[i:], " \t"), true
		}
	}
	return s, "", s != ""
}

// splitOptions splits comma-separated options, keeping quoted commas.
func splitOptions(s string) []string {
	var out []string
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isKeyType(s string) bool {
	return strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-")
}

// allows reports whether s may sign in namespace.
func (s *Signer) allows(namespace string) bool {
	if len(s.Namespaces) == 0 {
		return true
	}
	for _, ns := range s.Namespaces {
		if ns == namespace {
			return true
		}
	}
	return false
}

// signatureFormat names the format of an armored commit signature by its
// first line: "ssh", "openpgp", "x509" or "" for an unknown one.
func signatureFormat(sig string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(sig), "\n")
	switch strings.TrimSpace(first) {
	case "-----BEGIN SSH SIGNATURE-----":
		return "ssh"
	case "-----BEGIN PGP SIGNATURE-----", "-----BEGIN PGP MESSAGE-----":
		return "openpgp"
	case "-----BEGIN SIGNED MESSAGE-----":
		return "x509"
	}
	return ""
}

// VerifyCommit checks that c carries an SSH or OpenPGP signature by an
// allowed signer and returns that signer. Unsigned commits, X.509
// signatures, unknown keys and bad signatures are errors.
func (a *AllowedSigners) VerifyCommit(c *object.Commit) (*Signer, error) {
	if c.PGPSignature == "" {
		return nil, fmt.Errorf("commit %s is not signed", c.Hash)
	}
	payload, err := payloadOf(c)
	if err != nil {
		return nil, err
	}
	switch signatureFormat(c.PGPSignature) {
	case "ssh":
		return a.verifySSH(c, payload)
	case "openpgp":
		return a.verifyOpenPGP(c, payload)
	case "x509":
		return nil, fmt.Errorf("commit %s is signed with X.509 (gpg.format=x509): only SSH and OpenPGP signatures are supported", c.Hash)
	default:
		return nil, fmt.Errorf("commit %s carries a signature of an unknown format: only SSH and OpenPGP signatures are supported", c.Hash)
	}
}

func (a *AllowedSigners) verifySSH(c *object.Commit, payload []byte) (*Signer, error) {
	sig, err := sshsig.Unarmor([]byte(c.PGPSignature))
	if err != nil {
		return nil, fmt.Errorf("commit %s: signature: %w", c.Hash, err)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	for i := range a.Signers {
		s := &a.Signers[i]
		if s.Key == nil || ssh.FingerprintSHA256(s.Key) != fp || !s.allows(gitNamespace) {
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(payload), sig, s.Key, sig.HashAlgorithm, gitNamespace); err != nil {
			return nil, fmt.Errorf("commit %s: bad signature by %s: %w", c.Hash, fp, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("commit %s is signed by %s, which is not an allowed signer", c.Hash, fp)
}

func (a *AllowedSigners) verifyOpenPGP(c *object.Commit, payload []byte) (*Signer, error) {
	var ring openpgp.EntityList
	for i := range a.Signers {
		if e := a.Signers[i].OpenPGP; e != nil {
			ring = append(ring, e)
		}
	}
	signer, err := openpgp.CheckArmoredDetachedSignature(ring, bytes.NewReader(payload), strings.NewReader(c.PGPSignature), nil)
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return nil, fmt.Errorf("commit %s is signed with OpenPGP by %s, which is not an allowed signer", c.Hash, issuerOf(c.PGPSignature))
	case err != nil:
		return nil, fmt.Errorf("commit %s: bad OpenPGP signature: %w", c.Hash, err)
	}
	for i := range a.Signers {
		if e := a.Signers[i].OpenPGP; e != nil && e.PrimaryKey.KeyId == signer.PrimaryKey.KeyId {
			return &a.Signers[i], nil
		}
	}
	return nil, fmt.Errorf("commit %s is signed with OpenPGP by %s, which is not an allowed signer", c.Hash, openPGPFingerprint(signer))
}

// issuerOf names the key of an armored OpenPGP signature: its issuer key
// id, or "an unknown key" when the signature does not say.
func issuerOf(armored string) string {
	const unknown = "an unknown key"
	block, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return unknown
	}
	p, err := packet.Read(block.Body)
	if err != nil {
		return unknown
	}
	if sig, ok := p.(*packet.Signature); ok && sig.IssuerKeyId != nil {
		return fmt.Sprintf("OpenPGP key %016X", *sig.IssuerKeyId)
	}
	return unknown
}

// payloadOf is what git signed: the commit object without its signature.
func payloadOf(c *object.Commit) ([]byte, error) {
	o := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(o); err != nil {
		return nil, fmt.Errorf("commit %s: encoding: %w", c.Hash, err)
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
