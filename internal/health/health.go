// Package health derives a product's health at a site from the kstatus of its
// live objects (SPEC §4).
package health

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// State is a product's health.
type State string

// The health states of SPEC §4.
const (
	Healthy     State = "HEALTHY"
	Progressing State = "PROGRESSING"
	Error       State = "ERROR"
	Unknown     State = "UNKNOWN"
)

// Report is the health of a set of objects and the objects that decide it.
type Report struct {
	State State
	// Reasons name the objects that are not Current, with kstatus's message.
	Reasons []string
}

// Checker reads live objects to compute health.
type Checker struct {
	reader client.Reader
}

// NewChecker returns a Checker reading through r.
func NewChecker(r client.Reader) *Checker { return &Checker{reader: r} }

// Check computes the health of objs: all Current is Healthy, any Failed is
// Error, any InProgress (or missing) is Progressing, nothing to check is Unknown.
func (c *Checker) Check(ctx context.Context, objs []*unstructured.Unstructured) (Report, error) {
	if len(objs) == 0 {
		return Report{State: Unknown}, nil
	}
	rep := Report{State: Healthy}
	for _, want := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(want.GroupVersionKind())
		err := c.reader.Get(ctx, client.ObjectKeyFromObject(want), live)
		if apierrors.IsNotFound(err) {
			rep.add(Progressing, fmt.Sprintf("%s: not found", describe(want)))
			continue
		}
		if err != nil {
			return Report{State: Unknown}, fmt.Errorf("reading %s: %w", describe(want), err)
		}
		res, err := status.Compute(live)
		if err != nil {
			return Report{State: Unknown}, fmt.Errorf("computing status of %s: %w", describe(want), err)
		}
		switch res.Status {
		case status.CurrentStatus:
		case status.FailedStatus:
			rep.add(Error, fmt.Sprintf("%s: %s", describe(want), res.Message))
		case status.InProgressStatus, status.TerminatingStatus, status.NotFoundStatus:
			rep.add(Progressing, fmt.Sprintf("%s: %s", describe(want), res.Message))
		default:
			rep.add(Unknown, fmt.Sprintf("%s: %s", describe(want), res.Message))
		}
	}
	return rep, nil
}

// Wait polls Check every interval until objs are Healthy or Error, or the
// timeout passes, and returns the last report: still Progressing after the
// timeout is a state, not an error.
func (c *Checker) Wait(ctx context.Context, objs []*unstructured.Unstructured, interval, timeout time.Duration) (Report, error) {
	deadline := time.Now().Add(timeout)
	for {
		rep, err := c.Check(ctx, objs)
		if err != nil {
			return rep, err
		}
		if rep.State == Healthy || rep.State == Error || !time.Now().Add(interval).Before(deadline) {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// add records a non-Current object; the worst state wins.
func (r *Report) add(s State, reason string) {
	r.Reasons = append(r.Reasons, reason)
	if rank(s) > rank(r.State) {
		r.State = s
	}
}

func rank(s State) int {
	switch s {
	case Healthy:
		return 0
	case Unknown:
		return 1
	case Progressing:
		return 2
	default:
		return 3
	}
}

func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
