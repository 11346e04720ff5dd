package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// scanAlgorithms are the host key algorithms ScanHostKeys asks for, one
// handshake each, strongest first.
func scanAlgorithms() []string {
	return []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512,
	}
}

// errKeySeen stops a scanning handshake once the host key is known.
var errKeySeen = errors.New("host key received")

// ScanHostKeys connects to the SSH server at addr (host:port) and returns
// the host keys it offers, one per key type, without authenticating. The
// keys are unverified: show their fingerprints to a person before trusting
// them.
func ScanHostKeys(ctx context.Context, addr string) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for _, algo := range scanAlgorithms() {
		key, err := offeredKey(ctx, addr, algo)
		if err != nil {
			return nil, err
		}
		if key != nil {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s offered no host key of a supported type", addr)
	}
	return keys, nil
}

// offeredKey runs one handshake asking for algo and returns the server's
// key, or nil when the server has no key of that type.
func offeredKey(ctx context.Context, addr, algo string) (ssh.PublicKey, error) {
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, newError(ErrUnreachable, err, "cannot reach %s: no answer within %s", addr, timeout.Round(time.Millisecond))
		}
		if derr := dialError(addr, timeout, err); derr != nil {
			return nil, derr
		}
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	var key ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:              "syncd-known-hosts",
		HostKeyAlgorithms: []string{algo},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errKeySeen
		},
	}
	c, _, _, err := ssh.NewClientConn(conn, addr, cfg)
	if c != nil {
		_ = c.Close()
	}
	switch {
	case key != nil:
		return key, nil
	case ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return nil, newError(ErrUnreachable, err, "cannot reach %s: no SSH handshake within %s", addr, timeout.Round(time.Millisecond))
	case err != nil && isNoCommonAlgorithm(err):
		return nil, nil
	}
	return nil, fmt.Errorf("SSH handshake with %s: %w", addr, err)
}

// isNoCommonAlgorithm reports the handshake error of a server without a
// host key of the requested type.
func isNoCommonAlgorithm(err error) bool {
	var algErr *ssh.AlgorithmNegotiationError
	return errors.As(err, &algErr) || strings.Contains(err.Error(), "no common algorithm")
}

// KnownHostsLine formats key as the known_hosts line for addr (host:port;
// the port is left out when it is 22, as OpenSSH does).
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
}

// HostPort completes a HOST or HOST:PORT argument with the default SSH
// port. IPv6 addresses are written in brackets: [::1]:22.
func HostPort(arg string) (string, error) {
	if host, port, err := net.SplitHostPort(arg); err == nil {
		n, perr := strconv.Atoi(port)
		if host == "" || perr != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("invalid address %q: want HOST or HOST:PORT", arg)
		}
		return net.JoinHostPort(host, port), nil
	}
	host := arg
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if host == "" || (net.ParseIP(host) == nil && !validHostName(host)) {
		return "", fmt.Errorf("invalid address %q: want HOST or HOST:PORT", arg)
	}
	return net.JoinHostPort(host, strconv.Itoa(defaultSSHPort)), nil
}
