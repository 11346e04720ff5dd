package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Kinds of failure, for errors.Is. Every error a Source returns for one of
// these reasons matches exactly one of them, and its text says what failed in
// words an operator can act on; the daemon reports the site degraded without
// parsing that text.
var (
	// ErrHostKeyMismatch: the server's host key differs from known_hosts.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrUnknownHost: known_hosts has no key for the server.
	ErrUnknownHost = errors.New("unknown host")
	// ErrAuth: the server refused the deploy key.
	ErrAuth = errors.New("permission denied")
	// ErrRepoNotFound: the server has no such repository.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrBranchNotFound: the repository has no such branch.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrUnreachable: no SSH connection could be made (refused, timed out,
	// unknown host name).
	ErrUnreachable = errors.New("cannot reach server")
	// ErrPushRejected: the server refused a push for a reason other than a
	// concurrent update (a protected branch, a hook), or the branch kept
	// moving for every attempt.
	ErrPushRejected = errors.New("push rejected")
	// ErrOffline: the Source is offline (Options.Offline) and the operation
	// needs the server (a push, or a branch the local repository never saw).
	ErrOffline = errors.New("offline")
	// ErrSymlinkEscapes: a symlink in the tree points outside the repository.
	ErrSymlinkEscapes = errors.New("symlink points outside the repository")
)

// sourceError is a failure of one kind (a sentinel above) with a complete
// human message and the underlying cause.
type sourceError struct {
	kind  error
	msg   string
	cause error
}

func (e *sourceError) Error() string { return e.msg }

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *sourceError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func newError(kind, cause error, format string, args ...any) error {
	return &sourceError{kind: kind, msg: fmt.Sprintf(format, args...), cause: cause}
}

// classify turns an error from go-git's transport into one of the kinds above
// when it recognises it, and otherwise wraps it with what was being done.
func (s *Source) classify(err error, op string, hk *hostKeyCheck) error {
	if err == nil {
		return nil
	}
	var se *sourceError
	if errors.As(err, &se) {
		return se // drop wrappers such as "ssh: handshake failed"
	}
	if hk != nil && hk.failure() != nil {
		// The SSH library reports our host key callback's error, but not
		// always as a wrapped value; the check records it too.
		return hk.failure()
	}
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return newError(ErrRepoNotFound, err, "repository not found: %s", s.ep)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		strings.Contains(err.Error(), "unable to authenticate"):
		return newError(ErrAuth, err, "permission denied: the deploy key %s is not authorized on %s", s.fingerprint(), s.ep)
	case strings.Contains(strings.ToLower(err.Error()), "read only"), strings.Contains(strings.ToLower(err.Error()), "read-only"):
		// GitHub, GitLab and others refuse pushes with a read-only deploy key
		// after authenticating it.
		return newError(ErrAuth, err, "permission denied: the deploy key %s may not write to %s; give it write access (promoters need it): %v", s.fingerprint(), s.ep, err)
	}
	if nerr := dialError(s.ep.Address(), s.timeout, err); nerr != nil {
		return nerr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: timed out after %s: %w", op, s.ep, s.timeout, err)
	}
	return fmt.Errorf("%s %s: %w", op, s.ep, err)
}

// dialError describes a failure to open a TCP connection to addr, or
// returns nil when err is not one.
func dialError(addr string, timeout time.Duration, err error) error {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return newError(ErrUnreachable, err, "cannot reach %s: no such host", addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		return newError(ErrUnreachable, err, "cannot reach %s: connection refused", addr)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		reason := opErr.Err.Error()
		if opErr.Timeout() {
			reason = "no answer within " + timeout.String()
		}
		return newError(ErrUnreachable, err, "cannot reach %s: %s", addr, reason)
	}
	return nil
}

// connectTimeout is what classify reports when the SSH handshake itself did
// not finish in time (go-git does not pass the context to it).
func (s *Source) connectTimeout(err error) error {
	return newError(ErrUnreachable, err, "cannot reach %s: no answer within %s", s.ep.Address(), s.timeout)
}

// branchNotFound reports a branch missing on the server.
func (s *Source) branchNotFound(branch string) error {
	if s.offline {
		return newError(ErrBranchNotFound, nil, "branch %q of %s is not in the local repository %s, and syncd is offline (--offline): import a bundle with `syncd bundle import` first", branch, s.ep, s.dir)
	}
	return newError(ErrBranchNotFound, nil, "branch %q not found in %s", branch, s.ep)
}

// fingerprint is the SHA256 fingerprint of the deploy key, or a placeholder
// for file:// sources.
func (s *Source) fingerprint() string {
	if s.id == nil {
		return "(none)"
	}
	return s.id.fingerprint
}
