package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/syncd-dev/syncd/internal/bundle"
	"github.com/syncd-dev/syncd/internal/reconcile"
	"github.com/syncd-dev/syncd/internal/verify"
)

// Images travel as an OCI image layout under bundle.OCIDir: each image (or
// image index) by digest, annotated with the reference the site's objects
// name, and its cosign signature image (tag sha256-<hex>.sig of the same
// repository), annotated with that tag. `bundle import` pushes both to the
// site's registry under the same repository path: digests do not change, so
// the cosign signatures, which claim the digest, verify there as they did at
// the source.

// refAnnotation is the OCI annotation naming an image in a layout.
const refAnnotation = "org.opencontainers.image.ref.name"

// siteImages returns the distinct image references of the objects the
// site's products render to at the fleet repo fsys (the version each
// product's channel gives the site, as `syncd sync` plans it), sorted.
func siteImages(ctx context.Context, fsys fs.FS, site, revision string) ([]string, error) {
	plan, err := reconcile.PlanSite(ctx, fsys, site, revision)
	if err != nil {
		return nil, err
	}
	var refs, failed []string
	for _, p := range plan.Products {
		if p.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.Name, p.Err))
			continue
		}
		refs = append(refs, verify.Refs(p.Objects)...)
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("site %s: product(s) that cannot be rendered, so their images are unknown:\n  %s", site, strings.Join(failed, "\n  "))
	}
	return compactSorted(refs), nil
}

func compactSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// remoteOptions are the registry options of --registry-config.
func (f *commonFlags) remoteOptions(ctx context.Context) ([]remote.Option, error) {
	var kc authn.Keychain = authn.DefaultKeychain
	if f.registryConfig != "" {
		k, err := verify.LoadKeychain(f.registryConfig)
		if err != nil {
			return nil, withCode(ExitError, err)
		}
		kc = k
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, nil
}

// signatureTag is the cosign signature tag of digest in repo.
func signatureTag(repo name.Repository, digest string) name.Tag {
	return repo.Tag(strings.Replace(digest, ":", "-", 1) + ".sig")
}

// bundleImages copies the images of the site's products, and their cosign
// signatures, into an OCI image layout under dir/bundle.OCIDir.
func (f *commonFlags) bundleImages(ctx context.Context, s *streams, fsys fs.FS, dir string) ([]bundle.Image, error) {
	refs, err := siteImages(ctx, fsys, f.site, "")
	if err != nil {
		return nil, withCode(ExitError, err)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	opts, err := f.remoteOptions(ctx)
	if err != nil {
		return nil, err
	}
	p, err := layout.Write(filepath.Join(dir, bundle.OCIDir), empty.Index)
	if err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	var out []bundle.Image
	for i, ref := range refs {
		fmt.Fprintf(s.err, "copying image %s (%d/%d)\n", ref, i+1, len(refs))
		img, err := copyImage(p, ref, opts)
		if err != nil {
			return nil, withCode(ExitError, fmt.Errorf("image %s: %w", ref, err))
		}
		if img.Signature == "" {
			fmt.Fprintf(s.err, "warning: image %s has no cosign signature: a product with signing.keys will not verify it at the site\n", ref)
		}
		out = append(out, img)
	}
	return out, nil
}

// copyImage appends ref (resolved to its digest) and its signature, when
// it has one, to p.
func copyImage(p layout.Path, ref string, opts []remote.Option) (bundle.Image, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return bundle.Image{}, err
	}
	desc, err := remote.Get(parsed, opts...)
	if err != nil {
		return bundle.Image{}, fmt.Errorf("fetching: %w", err)
	}
	if d, ok := parsed.(name.Digest); ok && d.DigestStr() != desc.Digest.String() {
		return bundle.Image{}, fmt.Errorf("the registry served %s for it", desc.Digest)
	}
	out := bundle.Image{Ref: ref, Digest: desc.Digest.String()}
	if err := appendDescriptor(p, desc, ref); err != nil {
		return out, err
	}
	sigTag := signatureTag(parsed.Context(), out.Digest)
	sig, err := remote.Get(sigTag, opts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("fetching its signature %s: %w", sigTag.TagStr(), err)
	}
	if err := appendDescriptor(p, sig, sigTag.String()); err != nil {
		return out, err
	}
	out.Signature = sigTag.TagStr()
	return out, nil
}

// appendDescriptor appends an image or an image index to p, named ref.
func appendDescriptor(p layout.Path, desc *remote.Descriptor, ref string) error {
	ann := layout.WithAnnotations(map[string]string{refAnnotation: ref})
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		return p.AppendIndex(idx, ann)
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	return p.AppendImage(img, ann)
}

// layoutEntry is an image of the bundle's layout, ready to push.
type layoutEntry struct {
	target name.Reference // where it goes in the site's registry
	img    v1.Image
	idx    v1.ImageIndex
}

// planImagePushes checks that the layout under dir holds every image and
// signature m lists and returns where each goes in registry: the same
// repository path, by tag when the reference had one (else by digest), and
// the signature under its tag.
func planImagePushes(m *bundle.Manifest, dir, registry string) ([]layoutEntry, error) {
	if len(m.Images) == 0 {
		return nil, nil
	}
	p, err := layout.FromPath(filepath.Join(dir, bundle.OCIDir))
	if err != nil {
		return nil, fmt.Errorf("the bundle's OCI layout: %w", err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("the bundle's OCI layout: %w", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("the bundle's OCI layout: %w", err)
	}
	byRef := map[string]v1.Descriptor{}
	for _, d := range im.Manifests {
		byRef[d.Annotations[refAnnotation]] = d
	}
	entry := func(ref, digest string, target name.Reference) (layoutEntry, error) {
		d, ok := byRef[ref]
		if !ok || d.Digest.String() != digest {
			return layoutEntry{}, fmt.Errorf("the bundle's OCI layout lacks %s (%s)", ref, digest)
		}
		e := layoutEntry{target: target}
		if d.MediaType.IsIndex() {
			e.idx, err = ii.ImageIndex(d.Digest)
		} else {
			e.img, err = ii.Image(d.Digest)
		}
		if err != nil {
			return layoutEntry{}, fmt.Errorf("%s: %w", ref, err)
		}
		return e, nil
	}
	var out []layoutEntry
	for _, img := range m.Images {
		parsed, err := name.ParseReference(img.Ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		repo, err := name.NewRepository(registry + "/" + parsed.Context().RepositoryStr())
		if err != nil {
			return nil, fmt.Errorf("--registry %s: %w", registry, err)
		}
		var target name.Reference = repo.Digest(img.Digest)
		if tag, ok := parsed.(name.Tag); ok {
			target = repo.Tag(tag.TagStr())
		}
		e, err := entry(img.Ref, img.Digest, target)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if img.Signature != "" {
			sigRef := parsed.Context().Tag(img.Signature).String()
			sigDesc, ok := byRef[sigRef]
			if !ok {
				return nil, fmt.Errorf("the bundle's OCI layout lacks the signature %s", sigRef)
			}
			e, err := entry(sigRef, sigDesc.Digest.String(), signatureTag(repo, img.Digest))
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// pushImages pushes what planImagePushes planned.
func pushImages(ctx context.Context, s *streams, entries []layoutEntry, opts []remote.Option) error {
	for i, e := range entries {
		fmt.Fprintf(s.err, "loading image %s (%d/%d)\n", e.target, i+1, len(entries))
		var err error
		if e.idx != nil {
			err = remote.WriteIndex(e.target, e.idx, opts...)
		} else {
			err = remote.Write(e.target, e.img, opts...)
		}
		if err != nil {
			return fmt.Errorf("pushing %s: %w", e.target, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
