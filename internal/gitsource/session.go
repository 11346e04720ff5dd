package gitsource

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// validBranch checks a branch name the way Git does.
func validBranch(name string) error {
	if err := branchRef(name).Validate(); err != nil {
		return fmt.Errorf("invalid branch name %q", name)
	}
	return nil
}

// branchRef is the server's ref of a branch.
func branchRef(branch string) plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(branch)
}

// trackingRef is the local ref remembering where a server branch was when
// last fetched or pushed.
func trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", branch)
}

// openSession connects, starts the service and reads the advertised
// references. go-git does not pass the context to the SSH handshake, so the
// connection is made in a goroutine and abandoned (closed once it finishes)
// when ctx ends first: the caller never waits past its deadline.
func openSession[S transport.Session](ctx context.Context, s *Source, op string,
	start func(transport.Transport, *transport.Endpoint, transport.AuthMethod) (S, error),
) (S, *packp.AdvRefs, error) {
	type result struct {
		sess S
		refs *packp.AdvRefs
		err  error
	}
	var zero S
	if s.offline {
		return zero, nil, newError(ErrOffline, nil, "%s %s: not attempted, syncd is offline (--offline): commits arrive with `syncd bundle import`", op, s.ep)
	}
	auth, hk := s.auth()
	s.sessions.Add(1)
	done := make(chan result, 1)
	go func() {
		var r result
		ep := s.ep.transport()
		cl, err := client.NewClient(ep)
		if err != nil {
			r.err = err
			done <- r
			return
		}
		if r.sess, r.err = start(cl, ep, auth); r.err == nil {
			r.refs, r.err = r.sess.AdvertisedReferencesContext(ctx)
			if r.err != nil {
				_ = r.sess.Close()
			}
		}
		done <- r
	}()
	select {
	case r := <-done:
		if errors.Is(r.err, transport.ErrEmptyRemoteRepository) {
			return zero, nil, r.err // a repository without branches; callers decide
		}
		if r.err != nil {
			return zero, nil, s.classify(r.err, op, hk)
		}
		return r.sess, r.refs, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				_ = r.sess.Close()
			}
		}()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, nil, s.connectTimeout(ctx.Err())
		}
		return zero, nil, fmt.Errorf("%s %s: %w", op, s.ep, ctx.Err())
	}
}

// openUploadPack opens a session for reading (ls-remote, fetch).
func (s *Source) openUploadPack(ctx context.Context, op string) (transport.UploadPackSession, *packp.AdvRefs, error) {
	return openSession(ctx, s, op, func(t transport.Transport, ep *transport.Endpoint, a transport.AuthMethod) (transport.UploadPackSession, error) {
		return t.NewUploadPackSession(ep, a)
	})
}

// openReceivePack opens a session for pushing.
func (s *Source) openReceivePack(ctx context.Context, op string) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	return openSession(ctx, s, op, func(t transport.Transport, ep *transport.Endpoint, a transport.AuthMethod) (transport.ReceivePackSession, error) {
		return t.NewReceivePackSession(ep, a)
	})
}

// advertised is the hash a server advertises for ref, or the zero hash.
func advertised(refs *packp.AdvRefs, ref plumbing.ReferenceName) plumbing.Hash {
	if refs == nil {
		return plumbing.ZeroHash
	}
	return refs.References[ref.String()]
}
