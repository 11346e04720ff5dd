// Package bundle is the file format of `syncd bundle create` and `syncd
// bundle import` (SPEC §8): one tar file carrying the fleet branch as a git
// bundle and a site's images as an OCI image layout, with a manifest that
// lists every other file's size and SHA-256, and an SSH signature of the
// manifest (namespace SignatureNamespace, as `ssh-keygen -Y sign` makes).
//
// The tar holds, in this order: ManifestFile, SignatureFile, then the files
// the manifest lists, in its order. Read checks the signature against the
// trusted keys before it writes anything, and every file's size and digest
// as it extracts it, so a file that Read accepts is exactly what the holder
// of a trusted key wrote.
package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Names and versions of the format.
const (
	APIVersion    = "syncd.dev/v1alpha1"
	Kind          = "Bundle"
	FormatVersion = 1
	// ManifestFile and SignatureFile are the first two entries of the tar.
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.json.sig"
	// GitFile is the git bundle of the fleet branch.
	GitFile = "git/fleet.bundle"
	// OCIDir holds the images as an OCI image layout.
	OCIDir = "oci"
	// SignatureNamespace is the SSH signature namespace of the manifest: a
	// signature made for anything else (a Git commit, a file) does not
	// verify as a bundle's.
	SignatureNamespace = "syncd-bundle"
)

// Limits of what Read accepts.
const (
	maxManifest  = 4 << 20
	maxSignature = 64 << 10
	maxFiles     = 100_000
)

// Manifest describes a bundle.
type Manifest struct {
	APIVersion    string `json:"apiVersion"`
	Kind          string `json:"kind"`
	FormatVersion int    `json:"formatVersion"`
	// Site is the site the bundle was made for: import refuses it
	// elsewhere.
	Site string `json:"site"`
	// Repo and Branch are the fleet repo and branch the git bundle carries.
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	// Head is the branch's commit; Since, when set, the commit the git
	// bundle starts after (the site must have it).
	Head  string `json:"head"`
	Since string `json:"since,omitempty"`
	// CreatedAt is when the bundle was written.
	CreatedAt time.Time `json:"createdAt"`
	// Images are the images of the site's products, in the OCI layout.
	Images []Image `json:"images,omitempty"`
	// Files are the tar's files after the manifest and its signature.
	Files []File `json:"files"`
}

// Image is one image the bundle carries.
type Image struct {
	// Ref is the reference as the rendered objects name it; Digest the
	// manifest digest it resolved to (sha256:...).
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	// Signature is the cosign signature tag (sha256-<hex>.sig) carried
	// with it, when the image has one.
	Signature string `json:"signature,omitempty"`
}

// File is one file of the bundle.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Write writes a bundle to w: m (whose Files it fills in) signed by signer,
// and every regular file under root, in lexical order.
func Write(w io.Writer, m Manifest, root fs.FS, signer ssh.Signer) (Manifest, error) {
	m.APIVersion, m.Kind, m.FormatVersion = APIVersion, Kind, FormatVersion
	m.Files = nil
	err := fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", name)
		}
		f, err := root.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		m.Files = append(m.Files, File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("listing the bundle's files: %w", err)
	}
	if err := m.validate(); err != nil {
		return m, err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	data = append(data, '\n')
	sig, err := Sign(data, signer)
	if err != nil {
		return m, err
	}
	tw := tar.NewWriter(w)
	add := func(name string, size int64, body io.Reader) error {
		hdr := &tar.Header{Name: name, Size: size, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: m.CreatedAt, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		return nil
	}
	if err := add(ManifestFile, int64(len(data)), bytes.NewReader(data)); err != nil {
		return m, err
	}
	if err := add(SignatureFile, int64(len(sig)), bytes.NewReader(sig)); err != nil {
		return m, err
	}
	for _, f := range m.Files {
		fh, err := root.Open(f.Name)
		if err != nil {
			return m, err
		}
		err = add(f.Name, f.Size, io.LimitReader(fh, f.Size))
		_ = fh.Close()
		if err != nil {
			return m, err
		}
	}
	return m, tw.Close()
}

// Sign returns the armored SSH signature of a manifest.
func Sign(manifest []byte, signer ssh.Signer) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(manifest), signer, sshsig.HashSHA512, SignatureNamespace)
	if err != nil {
		return nil, fmt.Errorf("signing the bundle's manifest: %w", err)
	}
	return sshsig.Armor(sig), nil
}

// ErrUntrusted: the bundle's signature does not verify with any trusted
// key.
var ErrUntrusted = errors.New("bundle not signed by a trusted key")

// verify returns the trusted key that signed manifest.
func verify(manifest, armored []byte, keys []ssh.PublicKey) (ssh.PublicKey, error) {
	sig, err := sshsig.Unarmor(armored)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUntrusted, SignatureFile, err)
	}
	for _, k := range keys {
		if sshsig.Verify(bytes.NewReader(manifest), sig, k, sig.HashAlgorithm, SignatureNamespace) == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: signed by %s, which is not among the %d trusted key(s)", ErrUntrusted, ssh.FingerprintSHA256(sig.PublicKey), len(keys))
}

// Read reads a bundle from r: it checks the manifest's signature against
// keys, then extracts the files the manifest lists into dir (which must
// exist and should be empty), checking each one's size and digest. On error
// dir may hold part of the files: callers remove it. It returns the
// manifest and the key that signed it.
func Read(r io.Reader, keys []ssh.PublicKey, dir string) (*Manifest, ssh.PublicKey, error) {
	tr := tar.NewReader(r)
	manifest, err := readEntry(tr, ManifestFile, maxManifest)
	if err != nil {
		return nil, nil, err
	}
	sig, err := readEntry(tr, SignatureFile, maxSignature)
	if err != nil {
		return nil, nil, err
	}
	key, err := verify(manifest, sig, keys)
	if err != nil {
		return nil, nil, err
	}
	m := &Manifest{}
	dec := json.NewDecoder(bytes.NewReader(manifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if err := m.validate(); err != nil {
		return nil, nil, err
	}
	for i, f := range m.Files {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("bundle truncated: %s and %d more file(s) missing", f.Name, len(m.Files)-i-1)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the bundle: %w", err)
		}
		if hdr.Name != f.Name || hdr.Typeflag != tar.TypeReg || hdr.Size != f.Size {
			return nil, nil, fmt.Errorf("bundle entry %d is %q (%d bytes), the manifest says %q (%d bytes)", i+3, hdr.Name, hdr.Size, f.Name, f.Size)
		}
		if err := extract(tr, dir, f); err != nil {
			return nil, nil, err
		}
	}
	if hdr, err := tr.Next(); err == nil {
		return nil, nil, fmt.Errorf("bundle entry %q is not in the manifest", hdr.Name)
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("reading the bundle: %w", err)
	}
	return m, key, nil
}

// readEntry reads the next entry of tr, which must be name, at most max
// bytes.
func readEntry(tr *tar.Reader, name string, max int64) ([]byte, error) {
	hdr, err := tr.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("not a syncd bundle: reading %s: %w", name, err)
	}
	if hdr.Name != name || hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("not a syncd bundle: starts with %q, want %s", hdr.Name, name)
	}
	if hdr.Size > max {
		return nil, fmt.Errorf("not a syncd bundle: %s is %d bytes, more than %d", name, hdr.Size, max)
	}
	data, err := io.ReadAll(io.LimitReader(tr, max))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return data, nil
}

// extract writes the current entry of tr to dir/f.Name and checks its
// digest.
func extract(tr *tar.Reader, dir string, f File) error {
	p := filepath.Join(dir, filepath.FromSlash(f.Name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(tr, f.Size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w", f.Name, err)
	}
	if n != f.Size {
		return fmt.Errorf("%s: %d bytes, the manifest says %d", f.Name, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%s: SHA-256 %s, the manifest says %s: the file was altered", f.Name, got, f.SHA256)
	}
	return nil
}

// validate checks what readers rely on.
func (m *Manifest) validate() error {
	switch {
	case m.APIVersion != APIVersion || m.Kind != Kind:
		return fmt.Errorf("%s: apiVersion %q kind %q, want %s %s", ManifestFile, m.APIVersion, m.Kind, APIVersion, Kind)
	case m.FormatVersion != FormatVersion:
		return fmt.Errorf("%s: format version %d, this syncd reads %d", ManifestFile, m.FormatVersion, FormatVersion)
	case m.Site == "" || m.Branch == "" || m.Head == "":
		return fmt.Errorf("%s: site, branch and head are required", ManifestFile)
	case len(m.Files) > maxFiles:
		return fmt.Errorf("%s: more than %d files", ManifestFile, maxFiles)
	}
	seen := map[string]bool{}
	hasGit := false
	for _, f := range m.Files {
		if !validName(f.Name) {
			return fmt.Errorf("%s: invalid file name %q", ManifestFile, f.Name)
		}
		dir := strings.ToLower(f.Name)
		if seen[dir] {
			return fmt.Errorf("%s: file %q listed twice", ManifestFile, f.Name)
		}
		seen[dir] = true
		if f.Size < 0 || len(f.SHA256) != sha256.Size*2 {
			return fmt.Errorf("%s: file %q: invalid size or digest", ManifestFile, f.Name)
		}
		if _, err := hex.DecodeString(f.SHA256); err != nil {
			return fmt.Errorf("%s: file %q: invalid digest", ManifestFile, f.Name)
		}
		hasGit = hasGit || f.Name == GitFile
	}
	if !hasGit {
		return fmt.Errorf("%s: lists no %s", ManifestFile, GitFile)
	}
	// A file cannot also be a directory of another.
	for _, f := range m.Files {
		for d := path.Dir(f.Name); d != "."; d = path.Dir(d) {
			if seen[strings.ToLower(d)] {
				return fmt.Errorf("%s: %q is both a file and a directory", ManifestFile, d)
			}
		}
	}
	return nil
}

// validName accepts the clean relative paths under git/ and oci/.
func validName(name string) bool {
	if name == "" || len(name) > 512 || !fs.ValidPath(name) || strings.ContainsAny(name, "\\:\x00") {
		return false
	}
	top, _, ok := strings.Cut(name, "/")
	return ok && (top == "git" || top == OCIDir)
}
