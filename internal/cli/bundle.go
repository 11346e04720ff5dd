package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/fleet"
	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/status"
)

// newBundleCommand is `syncd bundle`: the airgap transport (SPEC §8).
func newBundleCommand(s *streams) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "bundle",
		Short: "Carry the fleet repo and images to an airgapped site, and its status report back",
		Long: `Airgapped sites (SPEC §8) cannot reach the fleet repo nor the registries. On
the connected side, ` + "`bundle create`" + ` writes one signed file with the fleet
branch and the images a site needs; on the site, ` + "`bundle import`" + ` checks it and
loads it, and ` + "`syncd run --offline`" + ` (or ` + "`sync --once --offline`" + `) then syncs
from it. The way back: ` + "`bundle status-export`" + ` writes the site's signed status
report to a file, and ` + "`bundle status-import`" + ` publishes it as the site's status
branch. See docs/security.md, "Airgapped sites".`,
	})
	c.AddCommand(newBundleCreateCommand(s), newBundleImportCommand(s), newBundleStatusExportCommand(s), newBundleStatusImportCommand(s))
	return c
}

// maxStatusFile bounds a status file read by status-import: a report is a
// few kilobytes.
const maxStatusFile = 16 << 20

func newBundleStatusExportCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var out string
	cmd := &cobra.Command{
		Use:   "status-export --site S --out FILE [--signing-key KEY]",
		Short: "Write this site's signed status report to a file (airgapped sites)",
		Long: `Read the site's status as syncd keeps it in the cluster (as ` + "`syncd status`" + ` does)
and write the status report a connected site would push, as the same signed
commit of branch syncd/status/<site>, in a git bundle file (` + "`git bundle verify`" + `
reads it). Sign with --signing-key, the key the fleet repo declares in
sites/<site>/site.pub: ` + "`bundle status-import`" + ` on the connected side publishes
the commit unchanged, and the promoter and fleet views check its signature
as for any site. The report's liveness time is when the site last recorded
its status (a running daemon refreshes it every few minutes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if err := f.requireSite(); err != nil {
				return err
			}
			if out == "" {
				return withCode(ExitError, errors.New("--out FILE is required"))
			}
			c, err := f.kubeClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := status.NewStore(c, f.namespace, f.site).Load(ctx)
			if err != nil {
				return err
			}
			if st == nil {
				return withCode(ExitError, fmt.Errorf("no status of site %s in namespace %s: run `syncd run` or `syncd sync --once` there first", f.site, f.namespace))
			}
			bc, err := gitsource.NewBundleCommitter(gitsource.Signature{}, f.signingKey)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("--signing-key: %w", err))
			}
			// The very publisher a connected site pushes its report with.
			if _, err := status.NewPublisher(bc, f.site, nil).Publish(ctx, st); err != nil {
				return err
			}
			var b bytes.Buffer
			if _, err := bc.WriteBundle(&b); err != nil {
				return err
			}
			if err := writeFileAtomic(out, b.Bytes()); err != nil {
				return err
			}
			signed := "signed"
			if f.signingKey == "" {
				signed = "UNSIGNED (no --signing-key: readers accept it only if the site declares no key in " + status.SiteKeyFile(f.site) + ")"
			}
			fmt.Fprintf(s.err, "status report of site %s at revision %s (%d product(s), refreshed %s), %s, written to %s\n",
				f.site, shortSHA(st.Revision), len(st.Products), st.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"), signed, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	f.addSite(cmd.Flags())
	f.addKube(cmd.Flags())
	cmd.Flags().StringVar(&f.signingKey, "signing-key", "", "SSH private key file (not encrypted) that signs the report: the key of sites/<site>/site.pub")
	return cmd
}

func newBundleStatusImportCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	cmd := &cobra.Command{
		Use:   "status-import FILE --repo URL",
		Short: "Publish an airgapped site's exported status report (connected side)",
		Long: `Read a file written by ` + "`bundle status-export`" + ` and publish the report it holds
as branch syncd/status/<site> of --repo (or --status-repo), the commit
unchanged, so that the promoter and ` + "`fleet status`" + ` read the airgapped site like
any other. Before publishing it checks that the file holds one status commit
of a site the fleet repo declares, with a valid report of that site, signed
by the key of sites/<site>/site.pub when the site declares one (or
unsigned only when it declares none and fleet.yaml does not set
spec.reports.requireSigned), and not older than the report already
published. A report older than spec.reports.staleAfter when imported is
shown stale, its health counted until its liveness time.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if f.repo == "" {
				return withCode(ExitError, errors.New("--repo (or SYNCD_REPO) is required: the fleet repo declares the sites' keys"))
			}
			b, err := readStatusFile(args[0])
			if err != nil {
				return withCode(ExitError, err)
			}
			if len(b.Header.Refs) != 1 {
				return withCode(ExitError, fmt.Errorf("%s: holds %d branches, want one status branch", args[0], len(b.Header.Refs)))
			}
			ref := b.Header.Refs[0]
			commit, err := b.Commit(ref.Hash)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: %w", args[0], err))
			}
			files, err := b.Files(ref.Hash)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: %w", args[0], err))
			}
			ctx := cmd.Context()
			src, err := f.gitSource(hclog.NewNullLogger())
			if err != nil {
				return err
			}
			rev, _, err := src.Fetch(ctx)
			if err != nil {
				return err
			}
			snap, err := src.Snapshot(ctx, rev.SHA)
			if err != nil {
				return err
			}
			repo, lerr := fleet.Load(snap)
			if repo == nil {
				return withCode(ExitError, lerr)
			}
			requireSigned := repo.Fleet != nil && repo.Fleet.Spec.Reports.RequireSigned
			trust, err := status.LoadReportTrust(snap, requireSigned)
			if err != nil {
				return err
			}
			branch := ref.Name.Short()
			report, signed, err := status.CheckExported(branch, commit, files, trust)
			if err != nil {
				return withCode(ExitError, fmt.Errorf("%s: refused: %w", args[0], err))
			}
			if _, ok := repo.Sites[report.Site]; !ok {
				return withCode(ExitError, fmt.Errorf("%s: refused: the fleet repo at %s declares no site %s (sites/%s/site.yaml)", args[0], shortSHA(rev.SHA), report.Site, report.Site))
			}
			statusSrc, err := f.statusSource(src, hclog.NewNullLogger())
			if err != nil {
				return withCode(ExitError, err)
			}
			if err := checkNotOlder(cmd, statusSrc, report); err != nil {
				return withCode(ExitError, fmt.Errorf("%s: refused: %w", args[0], err))
			}
			pushed, err := statusSrc.PushBundle(ctx, b, branch)
			if err != nil {
				return err
			}
			how := "signed by the key of " + status.SiteKeyFile(report.Site)
			if !signed {
				how = "unsigned (the site declares no key)"
			}
			if !pushed {
				fmt.Fprintf(s.err, "status report of site %s already published on branch %s\n", report.Site, branch)
				return nil
			}
			fmt.Fprintf(s.err, "status report of site %s at revision %s (refreshed %s), %s, published to branch %s\n",
				report.Site, shortSHA(report.Revision), report.RefreshedAt.UTC().Format("2006-01-02T15:04:05Z"), how, branch)
			return nil
		},
	}
	f.addRemoteGit(cmd.Flags())
	f.addStatusRepo(cmd.Flags())
	return cmd
}

// readStatusFile reads a status-export file.
func readStatusFile(path string) (*gitsource.Bundle, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxStatusFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxStatusFile {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a status report", path, maxStatusFile>>20)
	}
	b, err := gitsource.ReadBundle(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// checkNotOlder refuses report when the status branch already holds a
// newer report of its site.
func checkNotOlder(cmd *cobra.Command, statusSrc *gitsource.Source, report *status.Report) error {
	ctx := cmd.Context()
	branch := status.Branch(report.Site)
	heads, err := statusSrc.FetchBranches(ctx, branch)
	if err != nil {
		return err
	}
	sha, ok := heads[branch]
	if !ok {
		return nil
	}
	data, err := statusSrc.ReadFileAt(ctx, sha, status.ReportFile)
	if err != nil {
		return nil // an unreadable report is replaced
	}
	prev, err := status.ParseReport(data)
	if err != nil {
		return nil
	}
	return status.Supersedes(report, prev)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so that path is either absent, as it was, or complete.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
