package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/syncd-dev/syncd/internal/gitsource"
	"github.com/syncd-dev/syncd/internal/promote"
	"github.com/syncd-dev/syncd/internal/status"
	"github.com/syncd-dev/syncd/internal/testenv"
)

// promoterInProcess says how the demo runs the promoter when syncd's CLI has
// none yet: internal/promote's Promoter.Once in a loop in the demo process.
const promoterInProcess = "internal/promote (Promoter.Once every few seconds) inside the demo process"

// runPromoter evaluates the pipelines every interval until ctx ends, and
// reports every failure once. The returned channel closes when it stopped.
func (d *demo) runPromoter(ctx context.Context, every time.Duration) (<-chan struct{}, error) {
	src, err := gitsource.New(gitsource.Options{
		URL: d.url, IdentityFile: d.git.DeployKey.PrivatePath, KnownHostsFile: d.git.KnownHosts,
		CacheDir: filepath.Join(d.work, "promoter-cache"),
		Author:   gitsource.Signature{Name: "syncd promoter", Email: "promoter@syncd.dev"},
		// Its bumps are signed with the first site's key, an allowed signer.
		SigningKey: d.trust.siteKeys[d.opts.sites[0]].PrivatePath,
	})
	if err != nil {
		return nil, err
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "promoter", Output: logFile(filepath.Join(d.work, "promoter.log"))})
	gitDir := d.git.RepoPath("fleet.git")
	p := &promote.Promoter{
		Git: src, Log: log,
		Reports: func(context.Context, promote.FleetAt) (map[string]*status.Report, map[string]error, error) {
			return readReports(gitDir)
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		shown := ""
		for {
			_, err := p.Once(ctx)
			if ctx.Err() != nil {
				return
			}
			if msg := fmt.Sprint(err); err != nil && msg != shown {
				d.event("promoter: " + firstLine(msg))
				shown = msg
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
	return done, nil
}

// readReports reads every status branch of the bare repository gitDir.
func readReports(gitDir string) (map[string]*status.Report, map[string]error, error) {
	out, err := testenv.RunGit(gitDir, nil, "for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", "refs/heads/"+status.Branch(""))
	if err != nil {
		return nil, nil, err
	}
	reports, unreadable := map[string]*status.Report{}, map[string]error{}
	for _, line := range strings.Split(out, "\n") {
		commit, branch, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		site := strings.TrimPrefix(branch, status.Branch(""))
		data, err := testenv.RunGit(gitDir, nil, "cat-file", "blob", commit+":"+status.ReportFile)
		if err != nil {
			unreadable[site] = err
			continue
		}
		r, err := status.ParseReport([]byte(data))
		if err != nil {
			unreadable[site] = err
			continue
		}
		reports[site] = r
	}
	return reports, unreadable, nil
}
