// Package verifytest runs an in-process OCI registry on loopback and pushes
// and cosign-signs images in it, for tests of image verification and for the
// benchmarks and the demo (Start, PushImage, GenerateKey and SignImage return
// errors instead of failing a test).
package verifytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Registry is an OCI registry served on 127.0.0.1. It counts the requests
// it receives and can be taken down (every connection is closed at once) and
// brought back.
type Registry struct {
	// Host is the registry's host:port.
	Host string

	t        testing.TB // nil outside tests
	srv      *httptest.Server
	requests atomic.Int64
	down     atomic.Bool
}

// NewRegistry starts a registry; it stops when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry on 127.0.0.1 until Close.
func Start() (*Registry, error) {
	r := &Registry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			// Unreachable: the connection drops without an answer.
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		r.requests.Add(1)
		h.ServeHTTP(w, req)
	}))
	r.srv = srv
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	if host, _, err := net.SplitHostPort(r.Host); err != nil || host != "127.0.0.1" {
		srv.Close()
		return nil, fmt.Errorf("registry at %s, want 127.0.0.1", r.Host)
	}
	return r, nil
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// Requests is the number of requests served so far.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// SetDown takes the registry down (true) or brings it back (false).
func (r *Registry) SetDown(down bool) { r.down.Store(down) }

// Push pushes a new random image as repo:tag and returns its digest
// reference.
func (r *Registry) Push(repo, tag string) name.Digest {
	r.t.Helper()
	d, err := r.PushImage(repo, tag)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

// PushImage pushes a new random image as repo:tag and returns its digest
// reference.
func (r *Registry) PushImage(repo, tag string) (name.Digest, error) {
	img, err := random.Image(256, 1)
	if err != nil {
		return name.Digest{}, err
	}
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(ref, img); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return ref.Context().Digest(d.String()), nil
}

// Key is a cosign key pair made for a test.
type Key struct {
	priv *ecdsa.PrivateKey
	// PublicPEM is the public key as cosign writes cosign.pub.
	PublicPEM []byte
}

// NewKey generates an ECDSA P-256 key pair, as `cosign generate-key-pair`.
func NewKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// GenerateKey generates an ECDSA P-256 key pair, as `cosign
// generate-key-pair`.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, PublicPEM: pub}, nil
}

// Sign signs image with key as `cosign sign --key` does (a simple signing
// payload claiming image's digest) and attaches the signature to image.
func (r *Registry) Sign(key *Key, image name.Digest) {
	r.t.Helper()
	r.SignAs(key, image, image)
}

// SignAs attaches to target a signature by key whose payload claims
// claimed: with claimed != target, a signature copied from another image.
func (r *Registry) SignAs(key *Key, claimed, target name.Digest) {
	r.t.Helper()
	if err := SignImage(key, claimed, target); err != nil {
		r.t.Fatal(err)
	}
}

// SignImage attaches to target, in its registry, a signature by key whose
// payload claims claimed (target itself for a real signature), as `cosign
// sign --key` does.
func SignImage(key *Key, claimed, target name.Digest) error {
	body, err := payload.Cosign{Image: claimed}.MarshalJSON()
	if err != nil {
		return err
	}
	signer, err := signature.LoadECDSASigner(key.priv, crypto.SHA256)
	if err != nil {
		return err
	}
	raw, err := signer.SignMessage(bytes.NewReader(body))
	if err != nil {
		return err
	}
	sig, err := static.NewSignature(body, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return err
	}
	se, err := ociremote.SignedEntity(target)
	if err != nil {
		return fmt.Errorf("reading %s: %w", target, err)
	}
	signed, err := mutate.AttachSignatureToEntity(se, sig)
	if err != nil {
		return err
	}
	if err := ociremote.WriteSignatures(target.Repository, signed); err != nil {
		return fmt.Errorf("writing the signature of %s: %w", target, err)
	}
	return nil
}
