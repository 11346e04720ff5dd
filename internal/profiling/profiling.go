// Package profiling serves Go's net/http/pprof endpoints for `syncd run
// --pprof`, on a mux and listener of their own, and only on a loopback
// address: the profiles expose memory contents and cost CPU, so they are for
// someone on the host (or at the end of `kubectl port-forward`), never for the
// network.
package profiling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// CheckLoopback returns an error unless addr (host:port) names a loopback
// host: an IP address in 127.0.0.0/8 or ::1, or "localhost". An empty host
// (":6060", every interface) and any other name or address are refused.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof %q: want host:port on a loopback address, e.g. 127.0.0.1:6060: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("--pprof %q: profiles are served on a loopback address only (127.0.0.1, ::1 or localhost), not on %s; reach it with kubectl port-forward", addr, shown)
}

// Handler is a mux serving the net/http/pprof endpoints under /debug/pprof/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Server is a running pprof endpoint.
type Server struct {
	// Addr is the address it listens on (with the port chosen when addr
	// asked for port 0).
	Addr string
	srv  *http.Server
	done chan error
}

// Serve checks addr with CheckLoopback, listens on it and serves Handler
// until Stop is called.
func Serve(addr string) (*Server, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof %s: %w", addr, err)
	}
	// No write timeout: /debug/pprof/profile and /trace stream for as many
	// seconds as asked.
	s := &Server{
		Addr: ln.Addr().String(),
		srv:  &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Stop shuts the server down, waiting for running requests until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("stopping the pprof server: %w", err)
	}
	return nil
}
