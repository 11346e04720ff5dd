package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestKnownHostsLineVerifiesTheServer(t *testing.T) {
	srv := testenv.NewGitServer(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "fleet.yaml"), []byte("kind: Fleet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := testenv.SeedRepo(t, srv, "fleet.git", "main", src)

	for _, arg := range []string{fmt.Sprintf("127.0.0.1:%d", srv.Port), fmt.Sprintf("[127.0.0.1]:%d", srv.Port), url} {
		t.Run(arg, func(t *testing.T) {
			r := runCLI("known-hosts", arg)
			if r.code != ExitOK {
				t.Fatalf("known-hosts %s: exit %d\n%s", arg, r.code, r.stderr)
			}
			wantLine := fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port, strings.Join(strings.Fields(srv.HostKey.AuthorizedKey)[:2], " "))
			if strings.TrimSpace(r.stdout) != wantLine {
				t.Fatalf("stdout = %q, want %q", r.stdout, wantLine)
			}
			if !strings.Contains(r.stderr, "ssh-ed25519 key "+srv.HostKey.Fingerprint) {
				t.Fatalf("stderr does not show the fingerprint %s:\n%s", srv.HostKey.Fingerprint, r.stderr)
			}

			// The printed line is a working known_hosts file.
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := gitsource.New(gitsource.Options{
				URL: url, IdentityFile: srv.DeployKey.PrivatePath, KnownHostsFile: kh, CacheDir: t.TempDir(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Fetch(context.Background()); err != nil {
				t.Fatalf("Fetch with the printed known_hosts line: %v", err)
			}
		})
	}
}

func TestKnownHostsErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"known-hosts", closed}, "cannot reach " + closed + ": connection refused"},
		{[]string{"known-hosts", "bad host!"}, "invalid address"},
		{[]string{"known-hosts", "host:99999"}, "invalid address"},
		{[]string{"known-hosts"}, "accepts 1 arg"},
	}
	for _, tc := range tests {
		r := runCLI(tc.args...)
		if r.code != ExitError || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

func TestKnownHostsTimesOut(t *testing.T) {
	// A server that accepts and never speaks SSH.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				defer c.Close()
			}
		}
	}()
	r := runCLI("known-hosts", "--timeout", "300ms", l.Addr().String())
	if r.code != ExitError || !strings.Contains(r.stderr, "no SSH handshake within") {
		t.Fatalf("known-hosts against a silent server: %+v", r)
	}
}

func TestServerAddress(t *testing.T) {
	tests := map[string]string{
		"github.com":                      "github.com:22",
		"github.com:2222":                 "github.com:2222",
		"[::1]:22":                        "[::1]:22",
		"::1":                             "[::1]:22",
		"[::1]":                           "[::1]:22",
		"git@github.com:org/fleet.git":    "github.com:22",
		"ssh://git@host:2222/x/fleet.git": "host:2222",
	}
	for in, want := range tests {
		if got, err := serverAddress(in); err != nil || got != want {
			t.Errorf("serverAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
