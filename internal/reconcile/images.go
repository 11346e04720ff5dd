package reconcile

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/syncd-dev/syncd/internal/diff"
	"github.com/syncd-dev/syncd/internal/verify"
)

// ImageVerifier checks the images of a product's render against its signing
// keys (key name -> PEM public key) and returns the objects to apply, with
// the verified digests pinned. *verify.Verifier is one.
type ImageVerifier interface {
	Verify(ctx context.Context, product string, keys map[string][]byte, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error)
}

// errNoImageVerifier blocks products with a signing policy when the
// reconciler has no ImageVerifier: unverified images are never applied.
var errNoImageVerifier = errors.New("signing: images cannot be verified: syncd runs without an image verifier")

// verifyImages returns plan with the images of every product that has
// signing keys verified and pinned; a product whose images fail is blocked
// (not applied, nothing pruned) with a *verify.Error. plan is not modified.
// With record, each failure is also recorded as an Event.
//
// Products are verified verifyConcurrency at a time: with a cold cache
// (after a restart) each image costs several registry round trips.
func (r *Reconciler) verifyImages(ctx context.Context, plan *Plan, record bool) *Plan {
	out := *plan
	out.Products = make([]*ProductPlan, len(plan.Products))
	var g errgroup.Group
	g.SetLimit(verifyConcurrency)
	for i, pp := range plan.Products {
		out.Products[i] = pp
		if pp.SigningKeys == nil || pp.Blocked() || pp.NotDeployed != "" || len(pp.Objects) == 0 {
			continue
		}
		c := *pp
		out.Products[i] = &c
		if r.cfg.Images == nil {
			c.Err = errNoImageVerifier
			continue
		}
		g.Go(func() error {
			objs, err := r.cfg.Images.Verify(ctx, c.Name, c.SigningKeys, c.Objects)
			if err != nil {
				c.Err = err
				if record {
					r.verifyFailed(ctx, &c, err)
				}
				return nil
			}
			c.Objects = objs
			return nil
		})
	}
	_ = g.Wait()
	return &out
}

// verifyConcurrency bounds the products whose images are verified at once.
const verifyConcurrency = 4

// verifyFailed records an Event on each object whose image failed.
func (r *Reconciler) verifyFailed(ctx context.Context, pp *ProductPlan, err error) {
	var ve *verify.Error
	if !errors.As(err, &ve) {
		return
	}
	for _, f := range ve.Failures {
		for _, o := range pp.Objects {
			if diff.Describe(o) == f.Object {
				r.event(ctx, o, corev1.EventTypeWarning, "VerificationFailed",
					fmt.Sprintf("syncd did not apply %s %s: %s", pp.Name, pp.Version, f))
				break
			}
		}
	}
}
