package gitsource

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Endpoint is a parsed fleet repo URL.
type Endpoint struct {
	// Scheme is "ssh" or "file".
	Scheme string
	// User is the SSH login, empty when the URL names none (syncd then logs
	// in as "git", the user every Git host gives deploy keys).
	User string
	// Host is the SSH server's name or IP address, without brackets.
	Host string
	// Port is the SSH port; 0 means the default, 22.
	Port int
	// Path is the repository path. It is absolute except in scp-like URLs
	// (user@host:org/fleet.git), where it is relative to the login's home.
	Path string
}

// defaultSSHPort is the port of ssh:// URLs that name none.
const defaultSSHPort = 22

// ParseURL parses a fleet repo URL: ssh://[user@]host[:port]/path, the
// scp-like [user@]host:path, or file:///path (for tests and local mirrors).
// Passwords, queries, fragments and names that start with "-" are refused.
func ParseURL(raw string) (Endpoint, error) {
	if raw == "" {
		return Endpoint{}, errors.New("empty repository URL")
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return Endpoint{}, fmt.Errorf("repository URL %q contains a control character", raw)
		}
	}
	var (
		ep  Endpoint
		err error
	)
	if strings.Contains(raw, "://") {
		ep, err = parseSchemeURL(raw)
	} else {
		ep, err = parseSCPLike(raw)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("repository URL %q: %w", raw, err)
	}
	return ep, nil
}

func parseSchemeURL(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Endpoint{}, err
	}
	if u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Endpoint{}, errors.New("queries, fragments and opaque URLs are not supported")
	}
	switch strings.ToLower(u.Scheme) {
	case "ssh":
		return sshEndpoint(u)
	case "file":
		return fileEndpoint(u)
	default:
		return Endpoint{}, fmt.Errorf("unsupported scheme %q: use ssh://, an scp-like user@host:path, or file://", u.Scheme)
	}
}

func sshEndpoint(u *url.URL) (Endpoint, error) {
	ep := Endpoint{Scheme: "ssh", Host: u.Hostname(), Path: u.Path}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			return Endpoint{}, errors.New("passwords in URLs are not supported: syncd authenticates with a deploy key")
		}
		ep.User = u.User.Username()
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("invalid port %q", p)
		}
		ep.Port = n
	}
	if ep.Port == defaultSSHPort {
		ep.Port = 0
	}
	if ep.Path == "" || ep.Path == "/" {
		return Endpoint{}, errors.New("missing repository path")
	}
	return ep, ep.validate()
}

func fileEndpoint(u *url.URL) (Endpoint, error) {
	if u.User != nil || (u.Host != "" && u.Host != "localhost") {
		return Endpoint{}, errors.New("file:// URLs name no user or host: use file:///absolute/path")
	}
	if u.Path == "" || u.Path == "/" {
		return Endpoint{}, errors.New("missing repository path")
	}
	return Endpoint{Scheme: "file", Path: u.Path}, nil
}

func parseSCPLike(raw string) (Endpoint, error) {
	colon := strings.IndexByte(raw, ':')
	if colon < 0 || strings.Contains(raw[:colon], "/") {
		return Endpoint{}, errors.New("not a URL: use ssh://[user@]host[:port]/path, user@host:path, or file:///path")
	}
	ep := Endpoint{Scheme: "ssh", Host: raw[:colon], Path: raw[colon+1:]}
	if at := strings.IndexByte(ep.Host, '@'); at >= 0 {
		ep.User, ep.Host = ep.Host[:at], ep.Host[at+1:]
		if ep.User == "" {
			return Endpoint{}, errors.New("empty user before @")
		}
	}
	switch {
	case strings.HasPrefix(ep.Host, "["):
		return Endpoint{}, errors.New("scp-like URLs cannot carry an IPv6 address or a port: use ssh://user@[addr]:port/path")
	case ep.Path == "" || ep.Path == "/":
		return Endpoint{}, errors.New("missing repository path")
	case looksLikePort(ep.Path):
		return Endpoint{}, errors.New("scp-like URLs cannot carry a port: use ssh://user@host:port/path")
	case strings.Contains(ep.Path, "@"):
		// Tools disagree on where the user ends in host:a@b; Git and syncd
		// split at the first ':', go-git at the first '@'.
		return Endpoint{}, errors.New("scp-like paths cannot contain '@': use ssh://user@host/path")
	case strings.HasPrefix(ep.Path, `\`):
		return Endpoint{}, errors.New("repository path must not start with a backslash")
	}
	return ep, ep.validate()
}

// looksLikePort reports scp-like paths that go-git would read as a port
// (host:2222:path), which Git itself does not support.
func looksLikePort(p string) bool {
	digits, _, found := strings.Cut(p, ":")
	return found && digits != "" && len(digits) <= 5 && strings.Trim(digits, "0123456789") == ""
}

// validate checks what both SSH forms share.
func (e Endpoint) validate() error {
	switch {
	case e.Host == "":
		return errors.New("missing host")
	case net.ParseIP(e.Host) == nil && !validHostName(e.Host):
		return fmt.Errorf("invalid host %q", e.Host)
	case strings.HasPrefix(e.User, "-"), strings.HasPrefix(e.Path, "-"):
		return errors.New("host, user and path must not start with '-'")
	case strings.IndexFunc(e.User, func(r rune) bool { return !isNameRune(r) && r != '+' && r != '~' }) >= 0:
		return fmt.Errorf("invalid user %q", e.User)
	}
	return nil
}

// validHostName accepts DNS names: letters, digits, '-', '.' and '_', not
// starting with '-' or '.'.
func validHostName(h string) bool {
	return h != "" && h[0] != '-' && h[0] != '.' && strings.IndexFunc(h, func(r rune) bool { return !isNameRune(r) }) < 0
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_'
}

// String formats the endpoint so that ParseURL returns it unchanged:
// ssh:// for absolute paths, scp-like for paths relative to the home
// directory, file:// for local repositories.
func (e Endpoint) String() string {
	switch {
	case e.Scheme == "file":
		return (&url.URL{Scheme: "file", Path: e.Path}).String()
	case !path.IsAbs(e.Path):
		user := ""
		if e.User != "" {
			user = e.User + "@"
		}
		return user + e.Host + ":" + e.Path
	}
	u := &url.URL{Scheme: "ssh", Host: e.Host, Path: e.Path}
	if strings.Contains(e.Host, ":") {
		u.Host = "[" + e.Host + "]"
	}
	if e.Port != 0 {
		u.Host = net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	}
	if e.User != "" {
		u.User = url.User(e.User)
	}
	return u.String()
}

// Address is host:port of an SSH endpoint, the address dialled and the
// name looked up in known_hosts.
func (e Endpoint) Address() string {
	port := e.Port
	if port == 0 {
		port = defaultSSHPort
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(port))
}

// sshUser is the login name: the URL's, else "git".
func (e Endpoint) sshUser() string {
	if e.User == "" {
		return "git"
	}
	return e.User
}

// transport converts the endpoint for go-git without a round trip through a
// string, so go-git's own URL parsing never reinterprets it.
func (e Endpoint) transport() *transport.Endpoint {
	if e.Scheme == "file" {
		return &transport.Endpoint{Protocol: "file", Path: e.Path}
	}
	port := e.Port
	if port == 0 {
		port = defaultSSHPort
	}
	return &transport.Endpoint{Protocol: "ssh", User: e.sshUser(), Host: e.Host, Port: port, Path: e.Path}
}
