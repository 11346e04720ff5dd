// Package gitsource tracks the fleet repo over SSH with a deploy key (SPEC §1):
// it checks the branch head cheaply, fetches only new objects into a bare
// repository kept on disk, serves immutable read-only snapshots of a
// revision, and commits and pushes changes (channel bumps, status reports)
// with retries on concurrent updates.
//
// Host keys are always verified against a known_hosts file unless the caller
// opts out explicitly. Every network operation is bounded by a timeout, and
// failures match one of the Err* kinds for errors.Is.
package gitsource

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/ssh"
)

// Defaults for Options fields left empty.
const (
	DefaultBranch  = "main"
	DefaultTimeout = 2 * time.Minute
)

// Options configure a Source.
type Options struct {
	// URL is the fleet repo: ssh://[user@]host[:port]/path, [user@]host:path,
	// or file:///path.
	URL string
	// Branch is the tracked branch; DefaultBranch when empty.
	Branch string
	// IdentityFile is the deploy key's private key (ed25519, ECDSA or RSA),
	// required for SSH URLs.
	IdentityFile string
	// Passphrase decrypts an encrypted IdentityFile (the CLI reads it from
	// $SYNCD_IDENTITY_PASSPHRASE); PassphraseFile, when set, is read instead.
	Passphrase     string
	PassphraseFile string
	// KnownHostsFile lists the server's host keys. It is required for SSH
	// URLs unless InsecureSkipHostKeyCheck is set, which disables host
	// verification (for labs only) and logs a warning on every connection.
	KnownHostsFile           string
	InsecureSkipHostKeyCheck bool
	// CacheDir holds the local bare repository (one per URL) between
	// reconciles and across restarts. Required. Sources in one or several
	// processes may share it: they take turns through a file lock.
	CacheDir string
	// Timeout bounds each network operation (connect, list, fetch or push);
	// DefaultTimeout when zero.
	Timeout time.Duration
	// Logger receives progress and warnings; silent when nil.
	Logger hclog.Logger
	// Author signs the commits the Source makes; "syncd <syncd@localhost>"
	// when empty.
	Author Signature
	// SigningKey, when set, is an SSH private key file (not encrypted) that
	// signs every commit the Source makes, as git does with gpg.format=ssh,
	// so that sites verifying commits (--verify-commits) accept them.
	SigningKey string
	// Offline never contacts the server: the branches are where the local
	// repository last saw them, as fetched earlier or brought by
	// ImportBundle (an airgapped site, SPEC §8), and pushes fail with
	// ErrOffline.
	Offline bool
}

// Signature names the author and committer of commits.
type Signature struct {
	Name  string
	Email string
}

// Source is one branch of a fleet repo and its local copy. Its methods are
// safe for concurrent use; fetches and commits run one at a time.
type Source struct {
	ep         Endpoint
	branch     string
	id         *identity // nil for file:// URLs
	knownHosts string
	insecure   bool
	dir        string // the bare repository under CacheDir
	timeout    time.Duration
	log        hclog.Logger
	author     Signature
	signer     ssh.Signer // signs commits; nil: unsigned
	offline    bool       // never contact the server (Options.Offline)

	// Tunables, fixed by New; tests shorten them.
	maxPacks    int           // re-clone (compact) beyond this many pack files
	maxAttempts int           // pushes per Commit
	backoff     time.Duration // first retry delay, doubled each attempt

	// mu serializes the operations that change the local repository; it is
	// a channel so that waiting for it honours a context.
	mu     chan struct{}
	store  *filesystem.Storage // guarded by mu; nil until opened
	intact intact              // guarded by mu; what verify found readable
	last   string              // guarded by mu; revision the last Fetch returned
	// dirInfo identifies the directory store was opened from, and stamp
	// its pack files when s last released it; guarded by mu.
	dirInfo os.FileInfo
	stamp   int64

	// suspect is set when reading a snapshot found the local repository
	// damaged; the next Fetch re-clones.
	suspect atomic.Bool
	// fetches counts pack downloads (tests assert that nothing changed means
	// nothing fetched).
	fetches atomic.Int64
	// sessions counts connections to the server (round trips of listing
	// references, each followed by at most one pack).
	sessions atomic.Int64
}

// Sessions is how many connections to the server s has opened: each lists
// the server's references and transfers at most one pack.
func (s *Source) Sessions() int64 { return s.sessions.Load() }

// New validates opts, loads the deploy key and returns a Source. It does not
// touch the network.
func New(opts Options) (*Source, error) {
	ep, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		return nil, errors.New("gitsource: a cache directory is required")
	}
	s := &Source{
		ep:          ep,
		branch:      opts.Branch,
		knownHosts:  opts.KnownHostsFile,
		insecure:    opts.InsecureSkipHostKeyCheck,
		dir:         filepath.Join(opts.CacheDir, cacheName(ep)),
		timeout:     opts.Timeout,
		log:         opts.Logger,
		author:      opts.Author,
		offline:     opts.Offline,
		maxPacks:    50,
		maxAttempts: 5,
		backoff:     250 * time.Millisecond,
		mu:          make(chan struct{}, 1),
	}
	if s.branch == "" {
		s.branch = DefaultBranch
	}
	if err := validBranch(s.branch); err != nil {
		return nil, err
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.log = s.log.With("repo", ep.String(), "branch", s.branch)
	if s.author.Name == "" {
		s.author.Name = "syncd"
	}
	if s.author.Email == "" {
		s.author.Email = "syncd@localhost"
	}
	if opts.SigningKey != "" {
		if s.signer, err = loadSigningKey(opts.SigningKey); err != nil {
			return nil, err
		}
	}
	if ep.Scheme == "file" || s.offline {
		return s, nil
	}
	if opts.IdentityFile == "" {
		return nil, fmt.Errorf("gitsource: %s needs a deploy key (--identity)", ep)
	}
	if opts.KnownHostsFile == "" && !opts.InsecureSkipHostKeyCheck {
		return nil, fmt.Errorf("gitsource: %s needs a known_hosts file (--known-hosts); `syncd known-hosts %s` prints the line to put in it", ep, ep.Address())
	}
	pass, err := readPassphrase(opts.Passphrase, opts.PassphraseFile)
	if err != nil {
		return nil, err
	}
	if s.id, err = loadIdentity(opts.IdentityFile, pass); err != nil {
		return nil, err
	}
	return s, nil
}

// cacheName names the local repository of ep inside CacheDir: readable, and
// distinct per URL so that commands tracking different repositories can
// share a CacheDir.
func cacheName(ep Endpoint) string {
	sum := sha256.Sum256([]byte(ep.String()))
	base := strings.TrimSuffix(path.Base(ep.Path), ".git")
	if !validHostName(base) {
		base = "repo"
	}
	return fmt.Sprintf("%s-%x.git", base, sum[:6])
}

// Endpoint is the parsed repository URL.
func (s *Source) Endpoint() Endpoint { return s.ep }

// Branch is the tracked branch.
func (s *Source) Branch() string { return s.branch }

// lock waits for exclusive use of the local repository: first among this
// process's users of s, then among processes sharing the cache directory
// (a file lock). Another process may have replaced the repository (a
// re-clone) while s did not hold the lock; s then reopens it.
func (s *Source) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.mu <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the local repository: %w", ctx.Err())
	}
	if err := os.MkdirAll(filepath.Dir(s.dir), 0o755); err != nil {
		<-s.mu
		return nil, fmt.Errorf("creating the cache directory: %w", err)
	}
	fl, err := lockFile(ctx, s.dir+".lock")
	if err != nil {
		<-s.mu
		return nil, err
	}
	if s.store != nil && (!s.sameDir() || s.packStamp() != s.stamp) {
		// go-git indexes pack files once: reopen to see another process's.
		_ = s.store.Close()
		s.store = nil
	}
	return func() {
		s.stamp = s.packStamp()
		fl.unlock()
		<-s.mu
	}, nil
}

// sameDir reports whether the local repository is still the directory s
// opened.
func (s *Source) sameDir() bool {
	fi, err := os.Stat(s.dir)
	return err == nil && s.dirInfo != nil && os.SameFile(fi, s.dirInfo)
}

// packStamp changes whenever a pack file is added to or removed from the
// local repository.
func (s *Source) packStamp() int64 {
	fi, err := os.Stat(filepath.Join(s.dir, "objects", "pack"))
	if err != nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}

// withTimeout bounds one network operation.
func (s *Source) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// auth builds the credentials for one connection; nil for file:// URLs.
func (s *Source) auth() (transport.AuthMethod, *hostKeyCheck) {
	if s.id == nil {
		return nil, nil
	}
	if s.insecure {
		s.log.Warn("host key verification is disabled (--insecure-skip-host-key-check): anyone on the network path can impersonate the Git server", "host", s.ep.Address())
	}
	hk := &hostKeyCheck{file: s.knownHosts, insecure: s.insecure, addr: s.ep.Address()}
	return &sshAuth{user: s.ep.sshUser(), id: s.id, hosts: hk, timeout: s.timeout}, hk
}
