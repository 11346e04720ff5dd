package gitsource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// fleetFiles is a small fleet repo.
func fleetFiles() map[string]string {
	files := map[string]string{
		"fleet.yaml":                "kind: Fleet\n",
		"channels/web.yaml":         "spec: {dev: 1.0.0}\n",
		"sites/a/site.yaml":         "kind: Site\n",
		"products/web/product.yaml": "kind: Product\n",
	}
	for i := range 10 {
		files[fmt.Sprintf("products/web/releases/1.0.0/obj%d.yaml", i)] = fmt.Sprintf("n: %d\n", i)
	}
	return files
}

func TestFetchClonesThenFetchesOnlyNewObjects(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()

	rev, changed, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("first Fetch: %v", err)
	}
	want := f.remote("rev-parse", "main")
	if rev.SHA != want || !changed || rev.Branch != "main" || !strings.HasPrefix(rev.Subject, "seed ") {
		t.Fatalf("first Fetch = %+v, changed %v; want SHA %s, changed", rev, changed, want)
	}
	if got := s.fetches.Load(); got != 1 {
		t.Fatalf("first Fetch downloaded %d packs, want 1", got)
	}
	first := packs(t, s)
	if len(first) != 1 {
		t.Fatalf("cache has %d packs after the clone, want 1", len(first))
	}

	// Nothing changed: no pack is requested.
	rev2, changed, err := s.Fetch(ctx)
	if err != nil || rev2.SHA != want || changed {
		t.Fatalf("second Fetch = %s, changed %v, %v; want %s unchanged", rev2.SHA, changed, err, want)
	}
	if got := s.fetches.Load(); got != 1 {
		t.Fatalf("Fetch without a change downloaded a pack (%d in all)", got)
	}

	// One file changes in a subdirectory: the new pack holds the commit, the
	// root tree, channels/ and the blob, nothing else.
	newSHA := f.push("main", "bump web", map[string]string{"channels/web.yaml": "spec: {dev: 1.1.0}\n"})
	rev3, changed, err := s.Fetch(ctx)
	if err != nil || rev3.SHA != newSHA || !changed || rev3.Subject != "bump web" {
		t.Fatalf("Fetch after a push = %+v, changed %v, %v; want %s", rev3, changed, err, newSHA)
	}
	if got := s.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
	var added []string
	for _, p := range packs(t, s) {
		if p != first[0] {
			added = append(added, p)
		}
	}
	if len(added) != 1 {
		t.Fatalf("incremental fetch added %d packs, want 1", len(added))
	}
	if n := packObjects(t, added[0]); n != 4 {
		t.Fatalf("incremental pack holds %d objects, want 4 (commit, 2 trees, 1 blob)", n)
	}
	sn, err := s.Snapshot(ctx, rev3.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := sn.ReadFile("channels/web.yaml"); err != nil || string(data) != "spec: {dev: 1.1.0}\n" {
		t.Fatalf("channels/web.yaml = %q, %v", data, err)
	}
}

func TestFetchAfterRestartReusesCache(t *testing.T) {
	f := newFixture(t, fleetFiles())
	opts := f.options()
	ctx := context.Background()
	s1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rev1, _, err := s1.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	s2, err := New(opts) // a restarted daemon, same cache
	if err != nil {
		t.Fatal(err)
	}
	rev2, changed, err := s2.Fetch(ctx)
	if err != nil || rev2.SHA != rev1.SHA || !changed {
		t.Fatalf("Fetch after restart = %s, changed %v, %v; want %s, changed (first call)", rev2.SHA, changed, err, rev1.SHA)
	}
	if n := s2.fetches.Load(); n != 0 {
		t.Fatalf("Fetch after restart downloaded %d packs; the cache already had the head", n)
	}
}

func TestHeadListsWithoutFetching(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	got, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := f.remote("rev-parse", "main"); got != want {
		t.Fatalf("Head = %s, want %s", got, want)
	}
	if s.fetches.Load() != 0 || len(packs(t, s)) != 0 {
		t.Fatal("Head downloaded objects")
	}
}

func TestFetchErrors(t *testing.T) {
	f := newFixture(t, fleetFiles())
	addr := "[127.0.0.1]:" + fmt.Sprint(f.srv.Port)

	otherHost, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "other_host"), "other", "")
	if err != nil {
		t.Fatal(err)
	}
	wrongKnownHosts := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{f.srv.Addr()}, otherHost.Signer.PublicKey())
	if err := os.WriteFile(wrongKnownHosts, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyKnownHosts := filepath.Join(t.TempDir(), "empty_known_hosts")
	if err := os.WriteFile(emptyKnownHosts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stranger, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "stranger"), "stranger", "")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		edit func(*Options)
		kind error
		want []string
	}{{
		name: "wrong host key",
		edit: func(o *Options) { o.KnownHostsFile = wrongKnownHosts },
		kind: ErrHostKeyMismatch,
		want: []string{"host key mismatch for " + addr + ": server offered " + f.srv.HostKey.Fingerprint + ", known_hosts has " + otherHost.Fingerprint},
	}, {
		name: "unknown host",
		edit: func(o *Options) { o.KnownHostsFile = emptyKnownHosts },
		kind: ErrUnknownHost,
		want: []string{"unknown host " + addr + ": not in known_hosts file " + emptyKnownHosts, f.srv.HostKey.Fingerprint, "syncd known-hosts 127.0.0.1:"},
	}, {
		name: "wrong deploy key",
		edit: func(o *Options) { o.IdentityFile = stranger.PrivatePath },
		kind: ErrAuth,
		want: []string{"permission denied: the deploy key " + stranger.Fingerprint + " is not authorized on " + f.url},
	}, {
		name: "missing repository",
		edit: func(o *Options) { o.URL = f.srv.URL("nope.git") },
		kind: ErrRepoNotFound,
		want: []string{"repository not found: " + f.srv.URL("nope.git")},
	}, {
		name: "missing branch",
		edit: func(o *Options) { o.Branch = "release" },
		kind: ErrBranchNotFound,
		want: []string{`branch "release" not found in ` + f.url},
	}, {
		name: "nothing listening",
		edit: func(o *Options) { o.URL = fmt.Sprintf("ssh://%s@127.0.0.1:%d/x.git", f.srv.User, closedPort(t)) },
		kind: ErrUnreachable,
		want: []string{"cannot reach 127.0.0.1:", ": connection refused"},
	}}
	kinds := []error{ErrHostKeyMismatch, ErrUnknownHost, ErrAuth, ErrRepoNotFound, ErrBranchNotFound, ErrUnreachable}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := f.source(tc.edit)
			for op, call := range map[string]func() error{
				"Fetch": func() error { _, _, err := s.Fetch(context.Background()); return err },
				"Head":  func() error { _, err := s.Head(context.Background()); return err },
			} {
				err := call()
				if !errors.Is(err, tc.kind) {
					t.Fatalf("%s error = %v; want kind %v", op, err, tc.kind)
				}
				for _, k := range kinds {
					if k != tc.kind && errors.Is(err, k) {
						t.Errorf("%s error also matches %v", op, k)
					}
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s error %q does not contain %q", op, err, w)
					}
				}
			}
			if s.fetches.Load() != 0 {
				t.Error("a failed Fetch downloaded a pack")
			}
		})
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func TestFetchWhileServerDownThenRecovers(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	ctx := context.Background()
	rev, _, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Fetch(ctx)
	want := fmt.Sprintf("cannot reach 127.0.0.1:%d: connection refused", f.srv.Port)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Fetch with sshd down: %v; want ErrUnreachable %q", err, want)
	}
	// The last revision is still readable while the server is down.
	sn, err := s.Snapshot(ctx, rev.SHA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.ReadFile("fleet.yaml"); err != nil {
		t.Fatalf("reading the cached revision while the server is down: %v", err)
	}

	if err := f.srv.Start(); err != nil {
		t.Fatal(err)
	}
	newSHA := f.push("main", "while away", map[string]string{"fleet.yaml": "kind: Fleet # v2\n"})
	rev2, changed, err := s.Fetch(ctx)
	if err != nil || rev2.SHA != newSHA || !changed {
		t.Fatalf("Fetch after the server came back = %s, %v, %v; want %s", rev2.SHA, changed, err, newSHA)
	}
}

func TestConnectTimesOutOnSilentServer(t *testing.T) {
	// A server that accepts connections and never speaks: the SSH handshake
	// (which go-git runs without a context) must not block past Timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	key, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "id"), "id", "")
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		URL:            fmt.Sprintf("ssh://git@%s/fleet.git", l.Addr()),
		IdentityFile:   key.PrivatePath,
		KnownHostsFile: kh,
		CacheDir:       t.TempDir(),
		Timeout:        300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = s.Fetch(context.Background())
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("Fetch took %v with a 300ms timeout", elapsed)
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("Fetch from a silent server: %v; want ErrUnreachable, no answer within 300ms", err)
	}
}

func TestInsecureSkipHostKeyCheckWarnsEveryFetch(t *testing.T) {
	f := newFixture(t, fleetFiles())
	var logs logBuffer
	s := f.source(func(o *Options) {
		o.KnownHostsFile = ""
		o.InsecureSkipHostKeyCheck = true
		o.Logger = logs.logger()
	})
	for range 2 {
		if _, _, err := s.Fetch(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "host key verification is disabled"); n != 2 {
		t.Fatalf("warning logged %d times over 2 fetches, want 2:\n%s", n, logs.String())
	}
}

func TestNewRequiresKnownHostsForSSH(t *testing.T) {
	key, err := testenv.WriteKeyPair(filepath.Join(t.TempDir(), "id"), "id", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{URL: "git@example.com:org/fleet.git", IdentityFile: key.PrivatePath, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "needs a known_hosts file") || !strings.Contains(err.Error(), "syncd known-hosts example.com:22") {
		t.Fatalf("New without known_hosts: %v", err)
	}
	_, err = New(Options{URL: "git@example.com:org/fleet.git", KnownHostsFile: "/dev/null", CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "needs a deploy key") {
		t.Fatalf("New without identity: %v", err)
	}
	_, err = New(Options{URL: "file:///tmp/x.git"})
	if err == nil || !strings.Contains(err.Error(), "cache directory") {
		t.Fatalf("New without CacheDir: %v", err)
	}
}

func TestCompactsWhenPacksAccumulate(t *testing.T) {
	f := newFixture(t, fleetFiles())
	s := f.source(nil)
	s.maxPacks = 2
	ctx := context.Background()
	var want string
	for i := range 3 {
		want = f.push("main", fmt.Sprintf("change %d", i), map[string]string{"channels/web.yaml": fmt.Sprintf("v: %d\n", i)})
		rev, _, err := s.Fetch(ctx)
		if err != nil || rev.SHA != want {
			t.Fatalf("Fetch %d = %s, %v; want %s", i, rev.SHA, err, want)
		}
	}
	if n := len(packs(t, s)); n > 2 {
		t.Fatalf("cache has %d packs with maxPacks 2", n)
	}
	sn, err := s.Snapshot(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := sn.ReadFile("channels/web.yaml"); err != nil || string(data) != "v: 2\n" {
		t.Fatalf("after compaction channels/web.yaml = %q, %v", data, err)
	}
}
