package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
)

// GitServer is an OpenSSH sshd on a loopback port serving bare repositories
// made with the git command line.
type GitServer struct {
	// Host is "127.0.0.1" and Port the port sshd listens on.
	Host string
	Port int
	// User is the login name in URLs (the user running the tests).
	User string
	// Dir holds the bare repositories.
	Dir string
	// HostKey is the server's host key pair.
	HostKey *KeyPair
	// DeployKey is a key authorized for every repository.
	DeployKey *KeyPair
	// KnownHosts is a known_hosts file naming HostKey for [Host]:Port.
	KnownHosts string

	root           string
	authorizedKeys string
	config         string
	sshd           *Process
}

// sshdPath is where Debian's openssh-server installs the daemon.
const sshdPath = "/usr/sbin/sshd"

// StartGitServer starts sshd on a free loopback port with its own host key,
// authorized_keys (holding DeployKey) and configuration, all under a new
// temporary directory. Call Stop when done.
func StartGitServer() (*GitServer, error) {
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("%s not found: install it with `apt-get install -y openssh-server`", sshdPath)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git not found: install it with `apt-get install -y git`")
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("looking up current user: %w", err)
	}
	root, err := os.MkdirTemp("", "syncd-sshd-")
	if err != nil {
		return nil, fmt.Errorf("creating sshd dir: %w", err)
	}
	s := &GitServer{Host: "127.0.0.1", User: u.Username, root: root, Dir: filepath.Join(root, "repos")}
	if err := s.prepare(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	if err := s.Start(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *GitServer) prepare() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("creating repos dir: %w", err)
	}
	var err error
	if s.HostKey, err = WriteKeyPair(filepath.Join(s.root, "ssh_host_ed25519_key"), "syncd-test-host", ""); err != nil {
		return err
	}
	if s.DeployKey, err = WriteKeyPair(filepath.Join(s.root, "deploy_key"), "syncd-test-deploy", ""); err != nil {
		return err
	}
	s.authorizedKeys = filepath.Join(s.root, "authorized_keys")
	if err := os.WriteFile(s.authorizedKeys, []byte(s.DeployKey.AuthorizedKey+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing authorized_keys: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	s.KnownHosts = filepath.Join(s.root, "known_hosts")
	line := knownhosts.Line([]string{s.Addr()}, s.HostKey.Signer.PublicKey())
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing known_hosts: %w", err)
	}
	s.config = filepath.Join(s.root, "sshd_config")
	return os.WriteFile(s.config, []byte(s.configText()), 0o600)
}

func (s *GitServer) configText() string {
	return strings.Join([]string{
		"ListenAddress " + s.Host,
		"Port " + strconv.Itoa(s.Port),
		"HostKey " + s.HostKey.PrivatePath,
		"PidFile " + filepath.Join(s.root, "sshd.pid"),
		"AuthorizedKeysFile " + s.authorizedKeys,
		"AuthenticationMethods publickey",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"AllowUsers " + s.User,
		"UsePAM no",
		"StrictModes no",
		"PrintMotd no",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"PermitUserEnvironment no",
		"MaxStartups 100:30:200",
		// sshd runs each Git command as `$SHELL -c git-upload-pack …`, and
		// Debian's bash then sources the user's ~/.bashrc (it was started by
		// sshd at shell level 1). A developer's rc file (pyenv init, say)
		// costs a second per session and can hang on its own locks; at
		// SHLVL=1 bash starts at level 2 and reads no rc file, as a Git
		// host's restricted shell would.
		"SetEnv SHLVL=1",
		"LogLevel VERBOSE",
		"",
	}, "\n")
}

// Addr is "[127.0.0.1]:port", the host name ssh writes in known_hosts.
func (s *GitServer) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Start (re)starts sshd on the server's port, for tests that stop it to
// simulate an outage.
func (s *GitServer) Start() error {
	if s.sshd != nil && !s.sshd.Exited() {
		return nil
	}
	// sshd refuses to start as root without its privilege separation directory.
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return fmt.Errorf("creating /run/sshd: %w", err)
		}
	}
	logPath := filepath.Join(s.root, "sshd.log")
	p, err := StartProcess("sshd", sshdPath, []string{"-D", "-e", "-f", s.config, "-E", logPath + ".events"}, logPath)
	if err != nil {
		return err
	}
	s.sshd = p
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("sshd exited: %v\n%s\n%s", p.err, p.tail(), tailFile(logPath+".events", 20))
		}
		if sshBanner(s.Addr()) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sshd did not answer on %s within 15s:\n%s", s.Addr(), tailFile(logPath+".events", 20))
}

// sshBanner reports whether an SSH server answers on addr.
func sshBanner(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-")
}

// Log returns sshd's log, for diagnosing a failed test.
func (s *GitServer) Log() string {
	return tailFile(filepath.Join(s.root, "sshd.log.events"), 50)
}

// Shutdown stops sshd but keeps its files, so Start can bring it back.
func (s *GitServer) Shutdown() error {
	return s.sshd.Stop(5 * time.Second)
}

// Stop stops sshd and removes its directory and repositories.
func (s *GitServer) Stop() error {
	var errs []error
	if s.sshd != nil {
		errs = append(errs, s.sshd.Stop(5*time.Second))
	}
	errs = append(errs, os.RemoveAll(s.root))
	return errors.Join(errs...)
}

// AuthorizeKey adds an authorized_keys line (for example a key from `syncd keygen`).
func (s *GitServer) AuthorizeKey(line string) error {
	f, err := os.OpenFile(s.authorizedKeys, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("opening authorized_keys: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, strings.TrimSpace(line)); err != nil {
		return fmt.Errorf("writing authorized_keys: %w", err)
	}
	return nil
}

// RepoPath is the bare repository's directory for name (e.g. "fleet.git").
func (s *GitServer) RepoPath(name string) string {
	return filepath.Join(s.Dir, name)
}

// URL is the ssh:// URL of a repository on this server.
func (s *GitServer) URL(name string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.User, s.Addr(), s.RepoPath(name))
}

// SCPURL is the scp-like URL (user@host:path) of a repository; it carries no
// port, so it only works with an ssh config or a server on port 22.
func (s *GitServer) SCPURL(name string) string {
	return fmt.Sprintf("%s@%s:%s", s.User, s.Host, s.RepoPath(name))
}

// CreateRepo makes an empty bare repository whose default branch is branch.
func (s *GitServer) CreateRepo(name, branch string) (string, error) {
	path := s.RepoPath(name)
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch="+branch, path).CombinedOutput(); err != nil {
		return "", fmt.Errorf("git init --bare %s: %w: %s", path, err, out)
	}
	return path, nil
}

// GitSSHCommand is a GIT_SSH_COMMAND value that reaches this server with key
// and verifies the host against KnownHosts, for running the git CLI in tests.
func (s *GitServer) GitSSHCommand(key string) string {
	return fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes", key, s.KnownHosts)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
