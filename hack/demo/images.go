package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/verify/verifytest"
)

// exampleRegistry is the registry the images of examples/fleet-repo name;
// it does not exist.
const exampleRegistry = "registry.example.com/"

// signedProduct is the product of examples/fleet-repo whose images must be
// signed (signing: {keys: [trusted-ca]}), with its namespace.
var signedProduct = struct{ Name, Namespace, Key string }{"telemetry-agent", "telemetry", "trusted-ca"}

// images is the demo's own OCI registry on 127.0.0.1 and the cosign key its
// release pipeline signs with: what makes examples/fleet-repo's signing
// policy real in the demo.
type images struct {
	reg    *verifytest.Registry
	key    *verifytest.Key
	pushed map[string]bool // references pushed and signed
}

// startRegistry starts the demo's registry, generates its signing key and,
// in the demo's copy of the fleet repo, points every image at the registry
// and replaces keys/<key>.pub with the generated public key.
func (d *demo) startRegistry() error {
	reg, err := verifytest.Start()
	if err != nil {
		return err
	}
	d.onStop(func() error { reg.Close(); return nil })
	key, err := verifytest.GenerateKey()
	if err != nil {
		return err
	}
	d.images = &images{reg: reg, key: key, pushed: map[string]bool{}}
	d.step("starting an OCI registry on %s for the fleet's images; generating a cosign key pair: its public key replaces keys/%s.pub in the demo's copy, images move from %s to the registry", reg.Host, signedProduct.Key, strings.TrimSuffix(exampleRegistry, "/"))
	if err := os.WriteFile(filepath.Join(d.seed, "keys", signedProduct.Key+".pub"), key.PublicPEM, 0o644); err != nil {
		return err
	}
	return retargetImages(d.seed, exampleRegistry, reg.Host+"/")
}

// retargetImages replaces registry prefix from with to in every YAML file
// under dir's products/ and sites/.
func retargetImages(dir, from, to string) error {
	for _, sub := range []string{"products", "sites"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if next := strings.ReplaceAll(string(data), from, to); next != string(data) {
				return os.WriteFile(path, []byte(next), 0o644)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// imageField matches the image of a container in a manifest.
var imageField = regexp.MustCompile(`(?m)^\s*(?:-\s+)?image:\s*["']?([^\s"'#]+)`)

// imageRefs returns the image references under dir/products that name
// registry host, sorted.
func imageRefs(dir, host string) ([]string, error) {
	var refs []string
	err := filepath.WalkDir(filepath.Join(dir, "products"), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range imageField.FindAllStringSubmatch(string(data), -1) {
			if strings.HasPrefix(m[1], host+"/") {
				refs = append(refs, m[1])
			}
		}
		return nil
	})
	slices.Sort(refs)
	return slices.Compact(refs), err
}

// publish pushes and cosign-signs, as a release pipeline would, every image
// of the fleet checkout dir not published yet, and returns how many it did.
func (im *images) publish(dir string) (int, error) {
	refs, err := imageRefs(dir, im.reg.Host)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ref := range refs {
		if im.pushed[ref] {
			continue
		}
		repoTag := strings.TrimPrefix(ref, im.reg.Host+"/")
		repo, tag, ok := strings.Cut(repoTag, ":")
		if !ok || strings.Contains(repoTag, "@") {
			return n, fmt.Errorf("image %s: want %s/<repository>:<tag>", ref, im.reg.Host)
		}
		digest, err := im.reg.PushImage(repo, tag)
		if err != nil {
			return n, err
		}
		if err := verifytest.SignImage(im.key, digest, digest); err != nil {
			return n, err
		}
		im.pushed[ref] = true
		n++
	}
	return n, nil
}

// signedImages says what site s runs of the signed product: its images,
// pinned to the digests syncd verified, or that it does not run them.
func signedImages(ctx context.Context, s *site) string {
	var list appsv1.DaemonSetList
	if err := s.cluster.Client.List(ctx, &list, client.InNamespace(signedProduct.Namespace)); err != nil {
		return "cannot list its DaemonSets: " + err.Error()
	}
	var imgs []string
	for _, ds := range list.Items {
		for _, c := range ds.Spec.Template.Spec.Containers {
			imgs = append(imgs, c.Image)
		}
	}
	if len(imgs) == 0 {
		return fmt.Sprintf("%s not applied (its images failed verification? `syncd status --site %s`)", signedProduct.Name, s.name)
	}
	for _, img := range imgs {
		if !strings.Contains(img, "@sha256:") {
			return fmt.Sprintf("%s runs %s, not pinned to a verified digest", signedProduct.Name, img)
		}
	}
	return fmt.Sprintf("%s runs %s: cosign signature verified, digest pinned", signedProduct.Name, strings.Join(imgs, ", "))
}
