package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/crypto/ssh"
)

// testKey is a fixed ed25519 key (fuzzing needs the same one every run).
func testKey(t testing.TB, seed byte) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testFiles = fstest.MapFS{
	"git/fleet.bundle":   {Data: []byte("# v2 git bundle\n...")},
	"oci/oci-layout":     {Data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	"oci/index.json":     {Data: []byte(`{"schemaVersion":2}`)},
	"oci/blobs/sha256/a": {Data: []byte("blob")},
}

func testManifest() Manifest {
	return Manifest{Site: "s1", Repo: "ssh://git@example.com/fleet.git", Branch: "main",
		Head: strings.Repeat("a", 40), CreatedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		Images: []Image{{Ref: "reg.example/app:1", Digest: "sha256:" + strings.Repeat("b", 64)}}}
}

func writeTest(t testing.TB, signer ssh.Signer) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := Write(&b, testManifest(), testFiles, signer); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	data := writeTest(t, key)
	dir := t.TempDir()
	m, signer, err := Read(bytes.NewReader(data), []ssh.PublicKey{testKey(t, 2).PublicKey(), key.PublicKey()}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if ssh.FingerprintSHA256(signer) != ssh.FingerprintSHA256(key.PublicKey()) || m.Site != "s1" || len(m.Files) != 4 || len(m.Images) != 1 {
		t.Fatalf("manifest %+v signed by %s", m, ssh.FingerprintSHA256(signer))
	}
	for name, f := range testFiles {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("%s: %q %v", name, got, err)
		}
	}
}

// rewrite re-packs a bundle's tar entries through edit.
func rewrite(t *testing.T, data []byte, edit func(name string, body []byte) (string, []byte, bool)) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		name, body, keep := edit(hdr.Name, body)
		if !keep {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	return out.Bytes()
}

func TestReadRefuses(t *testing.T) {
	key := testKey(t, 1)
	good := writeTest(t, key)
	keys := []ssh.PublicKey{key.PublicKey()}
	unchanged := func(name string, body []byte) (string, []byte, bool) { return name, body, true }
	for _, tc := range []struct {
		name string
		data []byte
		keys []ssh.PublicKey
		want string
	}{
		{"untrusted key", good, []ssh.PublicKey{testKey(t, 2).PublicKey()}, "not among the 1 trusted key(s)"},
		{"no keys", good, nil, "not among the 0 trusted"},
		{"not a tar", []byte("hello"), keys, "not a syncd bundle"},
		{"empty", nil, keys, "not a syncd bundle"},
		{"file altered", rewrite(t, good, func(name string, body []byte) (string, []byte, bool) {
			if name == "oci/blobs/sha256/a" {
				body = []byte("blub")
			}
			return name, body, true
		}), keys, "the file was altered"},
		{"manifest altered", rewrite(t, good, func(name string, body []byte) (string, []byte, bool) {
			if name == ManifestFile {
				body = bytes.Replace(body, []byte(`"s1"`), []byte(`"s2"`), 1)
			}
			return name, body, true
		}), keys, "not among"},
		{"file missing", rewrite(t, good, func(name string, body []byte) (string, []byte, bool) {
			return name, body, name != "oci/index.json"
		}), keys, "the manifest says"},
		{"truncated", rewrite(t, good, func(name string, body []byte) (string, []byte, bool) {
			return name, body, name != "oci/oci-layout" && name != "oci/index.json" && name != "oci/blobs/sha256/a"
		}), keys, "bundle truncated"},
		{"extra file", rewriteAppend(t, good), keys, "not in the manifest"},
		{"rewritten unchanged", rewrite(t, good, unchanged), []ssh.PublicKey{testKey(t, 3).PublicKey()}, "not among"},
		{"signature first", rewrite(t, good, func(name string, body []byte) (string, []byte, bool) {
			return name, body, name != ManifestFile
		}), keys, "want manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := Read(bytes.NewReader(tc.data), tc.keys, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(tc.want, "trusted") || strings.Contains(tc.want, "not among") {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Fatalf("an untrusted bundle wrote %d entries", len(entries))
				}
			}
		})
	}
}

// rewriteAppend is good with one more entry at the end.
func rewriteAppend(t *testing.T, good []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(good))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(tr)
		_ = tw.WriteHeader(hdr)
		_, _ = tw.Write(body)
	}
	_ = tw.WriteHeader(&tar.Header{Name: "oci/extra", Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	return out.Bytes()
}

func TestValidate(t *testing.T) {
	digest := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"no git bundle", []File{{Name: "oci/index.json", SHA256: digest}}, "lists no git/fleet.bundle"},
		{"escape", []File{{Name: GitFile, SHA256: digest}, {Name: "oci/../../etc/passwd", SHA256: digest}}, "invalid file name"},
		{"absolute", []File{{Name: GitFile, SHA256: digest}, {Name: "/oci/x", SHA256: digest}}, "invalid file name"},
		{"other top", []File{{Name: GitFile, SHA256: digest}, {Name: "x/y", SHA256: digest}}, "invalid file name"},
		{"twice", []File{{Name: GitFile, SHA256: digest}, {Name: "git/FLEET.bundle", SHA256: digest}}, "listed twice"},
		{"file and dir", []File{{Name: GitFile, SHA256: digest}, {Name: "oci/a", SHA256: digest}, {Name: "oci/a/b", SHA256: digest}}, "both a file and a directory"},
		{"bad digest", []File{{Name: GitFile, SHA256: "xyz"}}, "invalid size or digest"},
	} {
		m := testManifest()
		m.APIVersion, m.Kind, m.FormatVersion, m.Files = APIVersion, Kind, FormatVersion, tc.files
		if err := m.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzRead: whatever the bytes, Read returns an error or a manifest whose
// files it wrote, never panics, and writes nothing outside dir.
func FuzzRead(f *testing.F) {
	key := testKey(f, 1)
	f.Add(writeTest(f, key))
	f.Add([]byte{})
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		m, _, err := Read(bytes.NewReader(data), []ssh.PublicKey{key.PublicKey()}, dir)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(file.Name))); err != nil || fi.Size() != file.Size {
				t.Fatalf("%s: %v", file.Name, err)
			}
		}
	})
}
