package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/verify"
	"github.com/syncd-dev/syncd/internal/verify/verifytest"
)

func deployment(images ...string) []*unstructured.Unstructured {
	var containers []any
	for i, img := range images {
		containers = append(containers, map[string]any{"name": string(rune('a' + i)), "image": img})
	}
	return []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "app", "namespace": "ns"},
		"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": containers}}},
	}}}
}

func imageOf(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	images := verify.Images(objs)
	if len(images) != 1 {
		t.Fatalf("images = %+v, want one", images)
	}
	return images[0].Ref
}

func TestVerify(t *testing.T) {
	reg := verifytest.NewRegistry(t)
	listed, unlisted := verifytest.NewKey(t), verifytest.NewKey(t)
	keys := map[string][]byte{"trusted": listed.PublicPEM}

	signed := reg.Push("acme/signed", "1.0")
	reg.Sign(listed, signed)
	reg.Push("acme/unsigned", "1.0")
	reg.Sign(unlisted, reg.Push("acme/other-key", "1.0"))
	copied := reg.Push("acme/copied", "1.0")
	reg.SignAs(listed, signed, copied)
	// The tag pointed at a signed image, then moved to an unsigned one.
	reg.Sign(listed, reg.Push("acme/moved", "1.0"))
	reg.Push("acme/moved", "1.0")

	tests := []struct {
		name       string
		image      string
		wantPinned string
		wantReason verify.Reason
	}{
		{name: "signed by a listed key", image: reg.Host + "/acme/signed:1.0", wantPinned: reg.Host + "/acme/signed:1.0@" + signed.DigestStr()},
		{name: "pinned by digest and signed", image: signed.String(), wantPinned: signed.String()},
		{name: "unsigned", image: reg.Host + "/acme/unsigned:1.0", wantReason: verify.Unsigned},
		{name: "signed by an unlisted key", image: reg.Host + "/acme/other-key:1.0", wantReason: verify.UnknownKey},
		{name: "signature copied from another image", image: reg.Host + "/acme/copied:1.0", wantReason: verify.DigestMismatch},
		{name: "tag moved after signing", image: reg.Host + "/acme/moved:1.0", wantReason: verify.Unsigned},
		{name: "no such image", image: reg.Host + "/acme/missing:1.0", wantReason: verify.NotFound},
		{name: "invalid reference", image: "UPPER/case:1", wantReason: verify.InvalidReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verify.New()
			out, err := v.Verify(context.Background(), "app", keys, deployment(tt.image))
			if tt.wantReason != "" {
				var ve *verify.Error
				if !errors.As(err, &ve) || len(ve.Failures) != 1 {
					t.Fatalf("Verify error = %v, want one failure %s", err, tt.wantReason)
				}
				f := ve.Failures[0]
				if f.Reason != tt.wantReason || f.Image != tt.image || f.Object != "Deployment/ns/app" {
					t.Errorf("failure = %+v, want reason %s for %s", f, tt.wantReason, tt.image)
				}
				if out != nil {
					t.Error("objects returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := imageOf(t, out); got != tt.wantPinned {
				t.Errorf("image = %s, want %s", got, tt.wantPinned)
			}
		})
	}
}

func TestVerifyCachesAndRecovers(t *testing.T) {
	reg := verifytest.NewRegistry(t)
	key := verifytest.NewKey(t)
	keys := map[string][]byte{"trusted": key.PublicPEM}
	a := reg.Push("acme/a", "1")
	b := reg.Push("acme/b", "1")
	reg.Sign(key, a)
	reg.Sign(key, b)
	objs := deployment(reg.Host+"/acme/a:1", reg.Host+"/acme/b:1")
	v := verify.New()
	ctx := context.Background()

	reg.SetDown(true)
	_, err := v.Verify(ctx, "app", keys, objs)
	var ve *verify.Error
	if !errors.As(err, &ve) || len(ve.Failures) != 2 || ve.Failures[0].Reason != verify.RegistryUnreachable {
		t.Fatalf("registry down: error = %v, want both images registry-unreachable", err)
	}
	if !strings.Contains(err.Error(), "acme/a:1 (Deployment/ns/app): registry-unreachable") {
		t.Errorf("error does not say which image and why: %v", err)
	}

	reg.SetDown(false)
	first, err := v.Verify(ctx, "app", keys, objs)
	if err != nil {
		t.Fatalf("registry back: %v", err)
	}
	before := reg.Requests()
	again, err := v.Verify(ctx, "app", keys, objs)
	if err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - before; n != 0 {
		t.Errorf("a no-op re-verification made %d registry request(s), want 0", n)
	}
	for i, img := range verify.Images(again) {
		if img.Ref != verify.Images(first)[i].Ref || !strings.Contains(img.Ref, "@sha256:") {
			t.Errorf("image %d = %s, want %s", i, img.Ref, verify.Images(first)[i].Ref)
		}
	}
	if imgs := verify.Images(objs); strings.Contains(imgs[0].Ref, "@") {
		t.Error("Verify modified its input")
	}

	// Another product with one of the images: the tag is resolved, the
	// verified digest is not fetched again.
	before = reg.Requests()
	if _, err := v.Verify(ctx, "other", keys, deployment(reg.Host+"/acme/a:1")); err != nil {
		t.Fatal(err)
	}
	if n := reg.Requests() - before; n > 2 {
		t.Errorf("verifying a cached digest under a new product made %d requests, want at most 2 (resolving the tag)", n)
	}

	// Other keys: verified again, and failing.
	other := verifytest.NewKey(t)
	if _, err := v.Verify(ctx, "app", map[string][]byte{"other": other.PublicPEM}, objs); !errors.As(err, &ve) || ve.Failures[0].Reason != verify.UnknownKey {
		t.Errorf("with another key: error = %v, want unknown-key", err)
	}
}

func TestImagesAndPin(t *testing.T) {
	podSpec := map[string]any{
		"initContainers":      []any{map[string]any{"name": "init", "image": "r.test/init:1"}},
		"containers":          []any{map[string]any{"name": "app", "image": "r.test/app:1"}},
		"ephemeralContainers": []any{map[string]any{"name": "debug", "image": "r.test/debug@sha256:aaaa"}},
	}
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"kind": "CronJob", "metadata": map[string]any{"name": "c", "namespace": "n"},
			"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": podSpec}}}}}},
		{Object: map[string]any{"kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "n"}, "spec": map[string]any{
			"containers": []any{map[string]any{"name": "app", "image": "r.test/app:1"}}}}},
		{Object: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "m"}, "data": map[string]any{"image": "not/an:image"}}},
	}
	var got []string
	for _, img := range verify.Images(objs) {
		got = append(got, img.Object+" "+img.Ref)
	}
	want := []string{"CronJob/n/c r.test/init:1", "CronJob/n/c r.test/app:1", "CronJob/n/c r.test/debug@sha256:aaaa", "Pod/n/p r.test/app:1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Images:\n got %q\nwant %q", got, want)
	}
	pinned := verify.Pin(objs, map[string]string{"r.test/app:1": "sha256:bbbb", "r.test/init:1": "sha256:cccc", "r.test/debug@sha256:aaaa": "sha256:aaaa"})
	got = nil
	for _, img := range verify.Images(pinned) {
		got = append(got, img.Ref)
	}
	want = []string{"r.test/init:1@sha256:cccc", "r.test/app:1@sha256:bbbb", "r.test/debug@sha256:aaaa", "r.test/app:1@sha256:bbbb"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Pin:\n got %q\nwant %q", got, want)
	}
	if pinned[2] != objs[2] {
		t.Error("an object without images was copied")
	}
}
