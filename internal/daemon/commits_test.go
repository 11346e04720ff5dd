package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/signers"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// TestVerifyingSourceOverSSH: the daemon's source of a site with
// --verify-commits, over real sshd with commits signed by real git, returns
// only verified heads, stays at the last one (unchanged) while the head is
// signed by an unknown key or unsigned, fails while nothing ever verified,
// and says what it decided.
func TestVerifyingSourceOverSSH(t *testing.T) {
	srv := testenv.NewGitServer(t)
	ctx := context.Background()
	keys := t.TempDir()
	release, err := testenv.WriteKeyPair(filepath.Join(keys, "release"), "release@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := testenv.WriteKeyPair(filepath.Join(keys, "intruder"), "intruder@example.test", "")
	if err != nil {
		t.Fatal(err)
	}
	as, err := signers.Parse("allowed_signers", []byte("release@example.test "+release.AuthorizedKey+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateRepo("fleet.git", "main"); err != nil {
		t.Fatal(err)
	}
	url := srv.URL("fleet.git")
	work := t.TempDir()
	testenv.Git(t, work, "init", "--quiet", "--initial-branch=main")
	push := func(key, msg string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(work, "f"), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Git(t, work, "add", "-A")
		args := []string{"-c", "gpg.format=ssh", "commit", "--quiet", "-m", msg, "--no-gpg-sign"}
		if key != "" {
			args = []string{"-c", "gpg.format=ssh", "-c", "user.signingkey=" + key, "commit", "--quiet", "-m", msg, "-S"}
		}
		testenv.Git(t, work, args...)
		if _, err := testenv.RunGit(work, []string{"GIT_SSH_COMMAND=" + srv.GitSSHCommand(srv.DeployKey.PrivatePath)}, "push", "--quiet", url, "main"); err != nil {
			t.Fatal(err)
		}
		return testenv.Git(t, work, "rev-parse", "HEAD")
	}
	src, err := gitsource.New(gitsource.Options{URL: url, IdentityFile: srv.DeployKey.PrivatePath, KnownHostsFile: srv.KnownHosts,
		CacheDir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifyingSource(src, signers.NewGate(as, ""), nil)

	unsigned := push("", "unsigned first")
	if _, _, err := v.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "no verified revision") {
		t.Fatalf("fetch of an unsigned head with nothing verified: %v", err)
	}
	if c := v.Commits(); c == nil || c.Head != unsigned || c.Verified != "" || !c.Held() {
		t.Fatalf("commits %+v", c)
	}
	good := push(release.PrivatePath, "signed")
	if sha, changed, err := v.Fetch(ctx); err != nil || sha != good || !changed {
		t.Fatalf("fetch of a signed head = %s %v %v, want %s changed", sha, changed, err, good)
	}
	for _, key := range []string{intruder.PrivatePath, ""} {
		head := push(key, "not allowed "+key)
		sha, changed, err := v.Fetch(ctx)
		if err != nil || sha != good || changed {
			t.Fatalf("fetch of head %s = %s %v %v, want to stay at %s unchanged", head, sha, changed, err, good)
		}
		if c := v.Commits(); c.Head != head || c.Verified != good || !c.Held() || !strings.Contains(c.String(), "staying at the last verified revision") {
			t.Fatalf("commits %+v", c)
		}
	}
	next := push(release.PrivatePath, "signed again")
	if sha, changed, err := v.Fetch(ctx); err != nil || sha != next || !changed || v.Commits().Held() {
		t.Fatalf("fetch of a signed head = %s %v %v, want %s changed", sha, changed, err, next)
	}
}
