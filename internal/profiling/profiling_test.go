package profiling

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		wantErr string // empty: accepted
	}{
		{"127.0.0.1:6060", ""},
		{"127.0.0.2:6060", ""},
		{"[::1]:6060", ""},
		{"localhost:6060", ""},
		{"127.0.0.1:0", ""},
		{":6060", "not on every interface"},
		{"0.0.0.0:6060", "not on 0.0.0.0"},
		{"[::]:6060", "not on ::"},
		{"10.0.0.5:6060", "not on 10.0.0.5"},
		{"syncd.example.com:6060", "not on syncd.example.com"},
		{"127.0.0.1", "want host:port"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := CheckLoopback(tc.addr)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckLoopback(%q) = %v, want nil", tc.addr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckLoopback(%q) = %v, want an error containing %q", tc.addr, err, tc.wantErr)
			}
		})
	}
}

func TestServeRefusesANonLoopbackAddress(t *testing.T) {
	s, err := Serve("0.0.0.0:0")
	if err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("Serve(0.0.0.0:0) listened; want a refusal")
	}
	if !strings.Contains(err.Error(), "loopback address only") {
		t.Fatalf("error %q does not say why", err)
	}
}

func TestServeServesPprofOnLoopback(t *testing.T) {
	s, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") || strings.HasSuffix(s.Addr, ":0") {
		t.Fatalf("Addr = %q, want 127.0.0.1 and the chosen port", s.Addr)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/heap?debug=1", "heap profile"},
		{"/debug/pprof/cmdline", "profiling.test"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get("http://" + s.Addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
				t.Fatalf("GET %s: %d, body without %q:\n%.300s", tc.path, resp.StatusCode, tc.want, body)
			}
		})
	}
	resp, err := http.Get("http://" + s.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the pprof mux: %d, want 404 (its own mux serves pprof only)", resp.StatusCode)
	}
}
