package gitsource

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Endpoint
		str  string // String(), when it differs from in
		addr string
	}{
		{in: "ssh://git@github.com/org/fleet.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "github.com", Path: "/org/fleet.git"}, addr: "github.com:22"},
		{in: "ssh://git@127.0.0.1:2222/srv/fleet.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "127.0.0.1", Port: 2222, Path: "/srv/fleet.git"}, addr: "127.0.0.1:2222"},
		{in: "ssh://git@host:22/x.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "host", Path: "/x.git"}, str: "ssh://git@host/x.git", addr: "host:22"},
		{in: "SSH://host/x.git", want: Endpoint{Scheme: "ssh", Host: "host", Path: "/x.git"}, str: "ssh://host/x.git", addr: "host:22"},
		{in: "ssh://git@[::1]:2222/x.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "::1", Port: 2222, Path: "/x.git"}, addr: "[::1]:2222"},
		{in: "ssh://git@[::1]/x.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "::1", Path: "/x.git"}, addr: "[::1]:22"},
		{in: "git@github.com:org/fleet.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "github.com", Path: "org/fleet.git"}, addr: "github.com:22"},
		{in: "github.com:org/fleet.git", want: Endpoint{Scheme: "ssh", Host: "github.com", Path: "org/fleet.git"}, addr: "github.com:22"},
		{in: "git@host:/srv/fleet.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "host", Path: "/srv/fleet.git"}, str: "ssh://git@host/srv/fleet.git", addr: "host:22"},
		{in: "ssh://git@host/path%20with%20space.git", want: Endpoint{Scheme: "ssh", User: "git", Host: "host", Path: "/path with space.git"}, addr: "host:22"},
		{in: "file:///tmp/fleet.git", want: Endpoint{Scheme: "file", Path: "/tmp/fleet.git"}},
		{in: "file://localhost/tmp/fleet.git", want: Endpoint{Scheme: "file", Path: "/tmp/fleet.git"}, str: "file:///tmp/fleet.git"},
	}
	for _, tc := range tests {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
		if tc.addr != "" && got.Address() != tc.addr {
			t.Errorf("ParseURL(%q).Address() = %q, want %q", tc.in, got.Address(), tc.addr)
		}
	}
}

func TestParseURLRefuses(t *testing.T) {
	tests := map[string]string{
		"":                                "empty",
		"https://github.com/org/fleet":    "unsupported scheme",
		"ssh://git:pw@host/x.git":         "passwords in URLs are not supported",
		"ssh://host":                      "missing repository path",
		"ssh://host/":                     "missing repository path",
		"ssh://host:0/x.git":              "invalid port",
		"ssh://host:99999/x.git":          "invalid port",
		"ssh://host/x.git?ref=main":       "queries",
		"ssh://host/x.git#main":           "fragments",
		"ssh://-oProxyCommand=evil/x.git": "invalid host",
		"-oProxyCommand=evil:x.git":       "invalid host",
		"git@host:-x.git":                 "must not start with '-'",
		"ssh://git@/x.git":                "missing host",
		"./relative/path":                 "not a URL",
		"/abs/path.git":                   "not a URL",
		"fleet.git":                       "not a URL",
		"git@host:":                       "missing repository path",
		"git@host:2222:x.git":             "cannot carry a port",
		"git@[::1]:x.git":                 "cannot carry an IPv6 address",
		"@host:x.git":                     "empty user",
		"a@b@host:x.git":                  "invalid host",
		"file://host/tmp/x.git":           "name no user or host",
		"file:///":                        "missing repository path",
		"ssh://host/x\n.git":              "control character",
	}
	for in, want := range tests {
		_, err := ParseURL(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}

// checkEndpoint asserts the properties every parsed URL has.
func checkEndpoint(t *testing.T, in string, ep Endpoint) {
	t.Helper()
	again, err := ParseURL(ep.String())
	if err != nil {
		t.Fatalf("ParseURL(%q) = %+v, but its String() %q does not parse: %v", in, ep, ep.String(), err)
	}
	if again != ep {
		t.Fatalf("round trip of %q: %+v, then %q gives %+v", in, ep, ep.String(), again)
	}
	if ep.Scheme == "file" {
		return
	}
	// go-git reads the canonical form the same way.
	gg, err := transport.NewEndpoint(ep.String())
	if err != nil {
		t.Fatalf("go-git cannot parse %q: %v", ep.String(), err)
	}
	port := gg.Port
	if port == 0 {
		port = 22
	}
	wantPort := ep.Port
	if wantPort == 0 {
		wantPort = 22
	}
	if gg.Protocol != "ssh" || gg.User != ep.User || strings.Trim(gg.Host, "[]") != ep.Host || port != wantPort || gg.Path != ep.Path {
		t.Fatalf("go-git reads %q as %+v; we read %+v", ep.String(), gg, ep)
	}
	if tr := ep.transport(); tr.Host != ep.Host || tr.Path != ep.Path || tr.Port != wantPort || tr.User != ep.sshUser() {
		t.Fatalf("transport endpoint %+v differs from %+v", tr, ep)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"ssh://git@github.com/org/fleet.git", "ssh://git@127.0.0.1:2222/srv/fleet.git", "git@github.com:org/fleet.git",
		"file:///tmp/fleet.git", "ssh://git@[::1]:22/x", "host:path", "a@b:/c", "ssh://h/%2F", "ssh://u@h:1/a b",
		"git@host:2222:x", "ssh://[::ffff:1.2.3.4]/x", "ssh://h/x?y", "user@host:~/x.git",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ep, err := ParseURL(in)
		if err != nil {
			return
		}
		if ep.Scheme != "ssh" && ep.Scheme != "file" {
			t.Fatalf("ParseURL(%q) scheme %q", in, ep.Scheme)
		}
		checkEndpoint(t, in, ep)
	})
}
