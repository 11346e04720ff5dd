// Package verify checks, between render and apply, that every container
// image of a product whose signing policy names keys carries a cosign
// signature by one of those keys (SPEC §7), and pins the verified digests in
// the objects to apply, so that what runs is what was verified.
//
// Verification is offline in the sense of sigstore: a static public key, no
// transparency log, no certificate authority. The signature's claimed digest
// must be the image's, so a signature copied from another image fails.
// Results are cached: a verified digest is never fetched again, and a
// product whose image references and keys are those of its last successful
// verification makes no registry request at all (its tags are not
// re-resolved until its render or keys change, or the process restarts).
package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/cosign/v2/pkg/oci"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	cosignsig "github.com/sigstore/cosign/v2/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// concurrency bounds the images of one product verified at once.
const concurrency = 8

// Verifier verifies the images of rendered products against cosign public
// keys, with a cache. It is safe for concurrent use.
type Verifier struct {
	keychain  authn.Keychain
	transport http.RoundTripper

	mu       sync.Mutex
	products map[string]lastVerified // by product
	verified map[string]bool         // repo@digest + "\n" + keyset
}

// lastVerified is a product's last successful verification.
type lastVerified struct {
	key     string            // keyset and image references
	digests map[string]string // reference -> digest
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithKeychain sets the registry credentials (default: anonymous).
func WithKeychain(kc authn.Keychain) Option { return func(v *Verifier) { v.keychain = kc } }

// WithTransport sets the HTTP transport to registries (default:
// remote.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option { return func(v *Verifier) { v.transport = rt } }

// New returns a Verifier with an empty cache.
func New(opts ...Option) *Verifier {
	v := &Verifier{
		keychain:  authn.NewMultiKeychain(),
		transport: remote.DefaultTransport,
		products:  map[string]lastVerified{},
		verified:  map[string]bool{},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Verify checks every image of objs, the render of product, against keys
// (key name -> PEM public key) and returns objs with each image pinned to
// its verified digest. When an image fails, it returns an *Error naming
// every failed image and why, and no objects.
func (v *Verifier) Verify(ctx context.Context, product string, keys map[string][]byte, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	images := Images(objs)
	if len(images) == 0 {
		return objs, nil
	}
	verifiers, keyset, err := loadKeys(keys)
	if err != nil {
		return nil, err
	}
	refs := Refs(objs)
	cacheKey := keyset + "\n" + strings.Join(refs, "\n")
	v.mu.Lock()
	last, ok := v.products[product]
	v.mu.Unlock()
	if ok && last.key == cacheKey {
		return Pin(objs, last.digests), nil
	}

	digests := make(map[string]string, len(refs))
	failures := make(map[string]Failure, len(refs))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, ref := range refs {
		g.Go(func() error {
			d, f := v.verifyRef(gctx, ref, verifiers, keyset)
			mu.Lock()
			defer mu.Unlock()
			if f != nil {
				failures[ref] = *f
			} else {
				digests[ref] = d
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(failures) > 0 {
		e := &Error{}
		for _, img := range images {
			if f, ok := failures[img.Ref]; ok {
				f.Image, f.Object = img.Ref, img.Object
				e.Failures = append(e.Failures, f)
				delete(failures, img.Ref)
			}
		}
		return nil, e
	}
	v.mu.Lock()
	v.products[product] = lastVerified{key: cacheKey, digests: digests}
	v.mu.Unlock()
	return Pin(objs, digests), nil
}

// verifyRef resolves ref to a digest and verifies it, unless that digest was
// verified with the same keys before. It returns the digest, or why it
// failed.
func (v *Verifier) verifyRef(ctx context.Context, ref string, verifiers map[string]signature.Verifier, keyset string) (string, *Failure) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return "", &Failure{Reason: InvalidReference, Detail: err.Error()}
	}
	digest, ok := parsed.(name.Digest)
	if !ok {
		desc, err := remote.Head(parsed, v.remoteOptions(ctx)...)
		if err != nil {
			return "", registryFailure("resolving the tag", err)
		}
		digest = parsed.Context().Digest(desc.Digest.String())
	}
	cacheKey := digest.String() + "\n" + keyset
	v.mu.Lock()
	done := v.verified[cacheKey]
	v.mu.Unlock()
	if done {
		return digest.DigestStr(), nil
	}
	if f := v.verifyDigest(ctx, digest, verifiers); f != nil {
		return "", f
	}
	v.mu.Lock()
	v.verified[cacheKey] = true
	v.mu.Unlock()
	return digest.DigestStr(), nil
}

// verifyDigest fetches the cosign signatures of digest and checks that one
// of them is by one of verifiers and claims digest.
func (v *Verifier) verifyDigest(ctx context.Context, digest name.Digest, verifiers map[string]signature.Verifier) *Failure {
	h, err := v1.NewHash(digest.DigestStr())
	if err != nil {
		return &Failure{Reason: InvalidReference, Detail: err.Error()}
	}
	opts := []ociremote.Option{ociremote.WithRemoteOptions(v.remoteOptions(ctx)...)}
	sigTag, err := ociremote.SignatureTag(digest, opts...)
	if err != nil {
		return &Failure{Reason: InvalidReference, Detail: err.Error()}
	}
	sigs, err := ociremote.Signatures(sigTag, opts...)
	if err != nil {
		return registryFailure("fetching signatures", err)
	}
	list, err := sigs.Get()
	if err != nil {
		return registryFailure("fetching signatures", err)
	}
	if len(list) == 0 {
		return &Failure{Reason: Unsigned, Detail: "no cosign signature for " + digest.DigestStr()}
	}
	var claimsOther []string
	for _, sig := range list {
		for _, keyName := range slices.Sorted(maps.Keys(verifiers)) {
			sv := verifiers[keyName]
			co := &cosign.CheckOpts{
				SigVerifier:   sv,
				ClaimVerifier: cosign.SimpleClaimVerifier,
				IgnoreTlog:    true,
				IgnoreSCT:     true,
				Offline:       true,
			}
			if _, err := cosign.VerifyImageSignature(ctx, sig, h, co); err == nil {
				return nil
			}
			if signedBy(ctx, sv, sig) {
				claimsOther = append(claimsOther, keyName)
			}
		}
	}
	if len(claimsOther) > 0 {
		return &Failure{Reason: DigestMismatch, Detail: fmt.Sprintf(
			"a signature by key %s claims another image than %s (copied from another image?)", claimsOther[0], digest.DigestStr())}
	}
	return &Failure{Reason: UnknownKey, Detail: fmt.Sprintf(
		"%d signature(s), none by keys %s", len(list), strings.Join(slices.Sorted(maps.Keys(verifiers)), ", "))}
}

// signedBy reports whether sig's payload is signed by sv, whatever image its
// claims name.
func signedBy(ctx context.Context, sv signature.Verifier, sig oci.Signature) bool {
	b64, err := sig.Base64Signature()
	if err != nil {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	payload, err := sig.Payload()
	if err != nil {
		return false
	}
	return sv.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload)) == nil
}

func (v *Verifier) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(v.keychain),
		remote.WithTransport(v.transport),
	}
}

// registryFailure classifies an error of a registry request.
func registryFailure(doing string, err error) *Failure {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return &Failure{Reason: NotFound, Detail: doing + ": " + err.Error()}
	}
	return &Failure{Reason: RegistryUnreachable, Detail: doing + ": " + err.Error()}
}

// loadKeys parses PEM public keys and returns their verifiers by name and an
// identifier of the set.
func loadKeys(keys map[string][]byte) (map[string]signature.Verifier, string, error) {
	if len(keys) == 0 {
		return nil, "", errors.New("no signing key: the product's signing policy names none")
	}
	verifiers := make(map[string]signature.Verifier, len(keys))
	h := sha256.New()
	for _, n := range slices.Sorted(maps.Keys(keys)) {
		sv, err := cosignsig.LoadPublicKeyRaw(keys[n], crypto.SHA256)
		if err != nil {
			return nil, "", fmt.Errorf("key %s: %w", n, err)
		}
		verifiers[n] = sv
		fmt.Fprintf(h, "%s\n%s\n", n, keys[n])
	}
	return verifiers, hex.EncodeToString(h.Sum(nil)), nil
}
