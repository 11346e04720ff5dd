package verify

import (
	"fmt"
	"strings"
)

// Reason says why an image failed verification; it is the reason label of
// the syncd_verify_failures_total metric.
type Reason string

// Reasons of a failed verification.
const (
	// Unsigned: the image has no cosign signature.
	Unsigned Reason = "unsigned"
	// UnknownKey: the image is signed, but by none of the product's keys.
	UnknownKey Reason = "unknown-key"
	// DigestMismatch: a signature by a listed key claims another image (a
	// signature copied from another image).
	DigestMismatch Reason = "digest-mismatch"
	// RegistryUnreachable: the registry could not be asked (network,
	// authentication, server errors).
	RegistryUnreachable Reason = "registry-unreachable"
	// NotFound: the registry has no such image (or tag).
	NotFound Reason = "not-found"
	// InvalidReference: the image reference does not parse.
	InvalidReference Reason = "invalid-reference"
)

// Failure is one image that failed verification.
type Failure struct {
	// Image is the reference as written in the render.
	Image string
	// Object holds the image, as Kind/namespace/name.
	Object string
	// Reason classifies the failure.
	Reason Reason
	// Detail says more, such as the registry's error.
	Detail string
}

// String formats the failure on one line.
func (f Failure) String() string {
	s := fmt.Sprintf("image %s (%s): %s", f.Image, f.Object, f.Reason)
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	return s
}

// Error is the error of a product whose images failed verification: it is
// not applied, and nothing of it is pruned.
type Error struct {
	// Failures are the images that failed, in render order.
	Failures []Failure
}

// Error names every failed image, one per line after the first.
func (e *Error) Error() string {
	lines := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		lines[i] = f.String()
	}
	return "image verification failed: " + strings.Join(lines, "\n")
}
