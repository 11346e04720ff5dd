package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/syncd-dev/syncd/internal/bundle"
	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/gitsource"
)

func newBundleCreateCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var out, since string
	cmd := &cobra.Command{
		Use:   "create --site S --out FILE --signing-key KEY [--since REV]",
		Short: "Write one signed file with the fleet branch and a site's images (connected side)",
		Long: `Fetch the fleet repo and write FILE for the airgapped site --site: the tracked
branch as a git bundle (with --since, only the commits after REV, a commit the
site already has: the head of the previous bundle), the images of the site's
products with their cosign signatures as an OCI image layout, and a manifest
listing every file's SHA-256, signed with --signing-key (an SSH signature,
namespace syncd-bundle). ` + "`syncd bundle import`" + ` at the site checks the signature
against its --trusted-key before it loads anything. Progress goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			switch {
			case f.repo == "":
				return withCode(ExitError, errors.New("--repo (or SYNCD_REPO) is required"))
			case out == "":
				return withCode(ExitError, errors.New("--out FILE is required"))
			case f.signingKey == "":
				return withCode(ExitError, errors.New("--signing-key is required: the site trusts only signed bundles"))
			}
			signer, err := gitsource.LoadSigningKey(f.signingKey)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("--signing-key: %w", err))
			}
			ctx := cmd.Context()
			src, err := f.gitSource(hclog.NewNullLogger())
			if err != nil {
				return err
			}
			fmt.Fprintf(s.err, "fetching %s (branch %s)\n", f.repo, f.branch)
			rev, _, err := src.Fetch(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.err, "fleet repo at %s: %s\n", shortSHA(rev.SHA), rev.Subject)
			snap, err := src.Snapshot(ctx, rev.SHA)
			if err != nil {
				return err
			}
			repo, lerr := fleet.Load(snap)
			if repo == nil {
				return withCode(ExitError, lerr)
			}
			if _, ok := repo.Sites[f.site]; !ok {
				return withCode(ExitError, fmt.Errorf("the fleet repo at %s has no site %s (sites/%s/site.yaml)%s", shortSHA(rev.SHA), f.site, f.site, problemsOf(repo, f.site)))
			}
			staging, err := os.MkdirTemp(filepath.Dir(out), ".syncd-bundle-*")
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			defer os.RemoveAll(staging)
			files := filepath.Join(staging, "files")
			stats, err := writeGitBundle(ctx, src, filepath.Join(files, filepath.FromSlash(bundle.GitFile)), rev.SHA, since)
			if err != nil {
				return withCode(ExitError, err)
			}
			what := "the whole history"
			if since != "" {
				what = "since " + shortSHA(since)
			}
			fmt.Fprintf(s.err, "writing git bundle: %d commit(s), %d object(s), %s\n", stats.Commits, stats.Objects, what)
			m := bundle.Manifest{Site: f.site, Repo: f.repo, Branch: f.branch, Head: rev.SHA, Since: since, CreatedAt: time.Now().UTC().Truncate(time.Second)}
			images, err := f.bundleImages(ctx, s, snap, files)
			if err != nil {
				return err
			}
			m.Images = images
			size, err := writeBundleFile(out, staging, m, files, signer)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.err, "bundle for site %s: %s at %s, %d image(s), %s, signed by %s, written to %s\n",
				f.site, f.branch, shortSHA(rev.SHA), len(images), humanBytes(size), ssh.FingerprintSHA256(signer.PublicKey()), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.Flags().StringVar(&since, "since", "", "full hash of a commit the site already has (the head of the bundle it imported last): the git bundle holds only the commits after it")
	cmd.Flags().StringVar(&f.signingKey, "signing-key", "", "SSH private key file (not encrypted) that signs the bundle; the site lists its public key with --trusted-key")
	f.addRemoteGit(cmd.Flags())
	f.addSite(cmd.Flags())
	f.addRegistry(cmd.Flags())
	return cmd
}

// problemsOf says why site may be missing from repo: its own problems.
func problemsOf(repo *fleet.Repo, site string) string {
	if err := repo.SiteErrors[site]; err != nil {
		return ": " + err.Error()
	}
	return ""
}

// writeGitBundle writes src's branch at head since since to path.
func writeGitBundle(ctx context.Context, src *gitsource.Source, path, head, since string) (gitsource.BundleStats, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return gitsource.BundleStats{}, err
	}
	fh, err := os.Create(path)
	if err != nil {
		return gitsource.BundleStats{}, err
	}
	stats, err := src.WriteBundle(ctx, fh, head, since)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return stats, fmt.Errorf("writing the git bundle: %w", err)
	}
	return stats, nil
}

// writeBundleFile writes the bundle of m and the files under dir to out,
// through a temporary file in staging, and returns its size.
func writeBundleFile(out, staging string, m bundle.Manifest, dir string, signer ssh.Signer) (int64, error) {
	tmp := filepath.Join(staging, "bundle.tar")
	fh, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	_, err = bundle.Write(fh, m, os.DirFS(dir), signer)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("writing the bundle: %w", err)
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, fmt.Errorf("writing %s: %w", out, err)
	}
	return fi.Size(), nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func newBundleImportCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var trusted []string
	var registry string
	cmd := &cobra.Command{
		Use:   "import FILE --site S --repo URL --trusted-key PUB [--registry HOST]",
		Short: "Check a bundle and load its commits and images (airgapped side)",
		Long: `Check FILE, written by ` + "`syncd bundle create`" + `, and load it: the manifest's
signature must verify with one of the --trusted-key public keys, every file
must match the manifest's size and SHA-256, the bundle must be made for --site
and the tracked --branch, its commits must build on what the cache already has
(a bundle made --since a commit the site lacks is refused) and move the branch
forward (an older or diverging bundle is refused). Only when everything
checks does it push the images, digests and cosign signature tags unchanged,
to --registry, and move the branch in --cache-dir, the cache of --repo that
` + "`syncd run --offline`" + ` and ` + "`syncd sync --once --offline`" + ` read: the site then syncs
that revision exactly as if it had fetched it. --repo is the URL the site is
configured with (it names the cache); it is never contacted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			if f.repo == "" {
				return withCode(ExitError, errors.New("--repo (or SYNCD_REPO) is required: the URL the site syncs from names its cache"))
			}
			keys, err := loadTrustedKeys(trusted)
			if err != nil {
				return withCode(ExitError, err)
			}
			ctx := cmd.Context()
			staging, err := os.MkdirTemp("", "syncd-bundle-import-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(staging)
			m, signer, err := readBundleFile(args[0], keys, staging)
			if err != nil {
				return withCode(ExitError, err)
			}
			fmt.Fprintf(s.err, "bundle signed by %s, created %s for site %s: %s at %s, %d image(s)\n",
				ssh.FingerprintSHA256(signer), m.CreatedAt.UTC().Format(time.RFC3339), m.Site, m.Branch, shortSHA(m.Head), len(m.Images))
			switch {
			case m.Site != f.site:
				return withCode(ExitError, fmt.Errorf("%s: refused: the bundle is for site %s, not %s", args[0], m.Site, f.site))
			case m.Branch != f.branch:
				return withCode(ExitError, fmt.Errorf("%s: refused: the bundle carries branch %s, the site tracks %s (--branch)", args[0], m.Branch, f.branch))
			case len(m.Images) > 0 && registry == "":
				return withCode(ExitError, fmt.Errorf("%s: the bundle carries %d image(s): --registry HOST names the site's registry to load them into", args[0], len(m.Images)))
			}
			f.offline = true // the import never contacts the server
			src, err := f.gitSource(hclog.NewNullLogger())
			if err != nil {
				return err
			}
			gitFile := filepath.Join(staging, filepath.FromSlash(bundle.GitFile))
			rev, changed, err := withFile(gitFile, func(r io.Reader) (gitsource.Revision, bool, error) { return src.CheckBundle(ctx, r) })
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: refused: %w", args[0], err))
			}
			if rev.SHA != m.Head {
				return withCode(ExitError, fmt.Errorf("%s: refused: the git bundle's head %s is not the manifest's %s", args[0], rev.SHA, m.Head))
			}
			pushes, err := planImagePushes(m, staging, registry)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: refused: %w", args[0], err))
			}
			if len(pushes) > 0 {
				opts, err := f.remoteOptions(ctx)
				if err != nil {
					return err
				}
				if err := pushImages(ctx, s, pushes, opts); err != nil {
					return withCode(ExitError, fmt.Errorf("loading the images into %s (the fleet repo branch was not moved; import the bundle again): %w", registry, err))
				}
			}
			if !changed {
				fmt.Fprintf(s.err, "fleet repo branch %s already at %s: nothing to import\n", f.branch, shortSHA(rev.SHA))
				return nil
			}
			rev, _, err = withFile(gitFile, func(r io.Reader) (gitsource.Revision, bool, error) { return src.ImportBundle(ctx, r) })
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: %w", args[0], err))
			}
			fmt.Fprintf(s.err, "imported: fleet repo branch %s at %s (%s); `syncd run --offline` syncs it at its next poll\n", f.branch, shortSHA(rev.SHA), rev.Subject)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&trusted, "trusted-key", nil, "file of public keys (authorized_keys lines) whose signature a bundle must carry; repeatable")
	cmd.Flags().StringVar(&registry, "registry", "", "the site's registry (HOST[:PORT]) to push the bundle's images to, under their repository paths")
	f.addRemoteGit(cmd.Flags())
	f.addSite(cmd.Flags())
	f.addRegistry(cmd.Flags())
	return cmd
}

// withFile calls fn with the file at path open.
func withFile[T any](path string, fn func(io.Reader) (T, bool, error)) (T, bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, false, err
	}
	defer fh.Close()
	return fn(fh)
}

// readBundleFile checks and extracts the bundle at path into dir.
func readBundleFile(path string, keys []ssh.PublicKey, dir string) (*bundle.Manifest, ssh.PublicKey, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	m, key, err := bundle.Read(fh, keys, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: refused: %w", path, err)
	}
	return m, key, nil
}

// loadTrustedKeys reads the public keys of --trusted-key files.
func loadTrustedKeys(files []string) ([]ssh.PublicKey, error) {
	if len(files) == 0 {
		return nil, errors.New("--trusted-key is required: the public key(s) whose signature a bundle must carry")
	}
	var keys []ssh.PublicKey
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--trusted-key: %w", err)
		}
		n := 0
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				return nil, fmt.Errorf("--trusted-key %s:%d: %w", file, i+1, err)
			}
			keys = append(keys, k)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("--trusted-key %s: no public key", file)
		}
	}
	return keys, nil
}
