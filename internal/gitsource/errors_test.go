package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/syncd-dev/syncd/internal/testenv"
)

func TestClassify(t *testing.T) {
	s := &Source{ep: Endpoint{Scheme: "ssh", User: "git", Host: "git.example.com", Path: "/fleet.git"}, id: &identity{fingerprint: "SHA256:abc"}, timeout: time.Second}
	tests := []struct {
		err  error
		kind error
		want string
	}{
		{transport.ErrRepositoryNotFound, ErrRepoNotFound, "repository not found: ssh://git@git.example.com/fleet.git"},
		{errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]"), ErrAuth, "permission denied: the deploy key SHA256:abc is not authorized on ssh://git@git.example.com/fleet.git"},
		{errors.New("ERROR: The key you are authenticating with has been marked as read only."), ErrAuth, "may not write to ssh://git@git.example.com/fleet.git"},
		{context.DeadlineExceeded, context.DeadlineExceeded, "fetching ssh://git@git.example.com/fleet.git: timed out after 1s"},
		{fs.ErrPermission, fs.ErrPermission, "fetching ssh://git@git.example.com/fleet.git: wrapped: permission denied"},
	}
	for _, tc := range tests {
		got := s.classify(fmt.Errorf("wrapped: %w", tc.err), "fetching", nil)
		if !errors.Is(got, tc.kind) || !strings.Contains(got.Error(), tc.want) {
			t.Errorf("classify(%v) = %v; want %v containing %q", tc.err, got, tc.kind, tc.want)
		}
	}
}

func TestFileURL(t *testing.T) {
	// file:// needs neither sshd nor keys: what other packages' tests use.
	bare := filepath.Join(t.TempDir(), "fleet.git")
	testenv.Git(t, t.TempDir(), "init", "--quiet", "--bare", "--initial-branch=main", bare)
	work := t.TempDir()
	writeFiles(t, work, fleetFiles())
	testenv.Git(t, work, "init", "--quiet", "--initial-branch=main")
	testenv.Git(t, work, "add", "-A")
	testenv.Git(t, work, "commit", "--quiet", "-m", "seed")
	testenv.Git(t, work, "push", "--quiet", bare, "main")

	s, err := New(Options{URL: "file://" + bare, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := testenv.Git(t, bare, "rev-parse", "main"); rev.SHA != want {
		t.Fatalf("Fetch = %s, want %s", rev.SHA, want)
	}
	sha, err := s.Commit(ctx, CommitRequest{Message: "bump", Change: bump("2.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	if got := testenv.Git(t, bare, "show", sha+":channels/web.yaml"); got != "spec: {dev: 2.0.0}" {
		t.Fatalf("pushed content = %q", got)
	}

	missing, err := New(Options{URL: "file://" + filepath.Join(t.TempDir(), "nope.git"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := missing.Fetch(ctx); !errors.Is(err, ErrRepoNotFound) {
		t.Fatalf("Fetch of a missing file:// repository: %v", err)
	}
	if _, err := os.Stat(s.dir); err != nil {
		t.Fatal(err)
	}
}
