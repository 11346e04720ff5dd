package dora

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes r as a table: one row per product and one for the
// fleet, the deployments of every channel and the headline channel's
// metrics, then what the columns mean.
func WriteTable(w io.Writer, r Report) error {
	window := time.Duration(r.WindowSeconds) * time.Second
	fmt.Fprintf(w, "DORA metrics of channel %s over %s, %s to %s (head %s)\n\n", r.Channel, FormatDuration(window),
		r.Since.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339), short(r.Revision))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"PRODUCT"}
	for _, ch := range r.Channels {
		head = append(head, strings.ToUpper(ch))
	}
	head = append(head, strings.ToUpper(r.Channel)+"/WEEK", "PROMOTED", "LEAD TIME p50", "p90", "CHANGE FAILURE", "RESTORE p50", "ROLL-OFFS")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	rows := append([]Product(nil), r.Products...)
	rows = append(rows, r.Fleet)
	for _, p := range rows {
		name := p.Product
		if name == "" {
			name = "(fleet)"
		}
		cols := []string{name}
		var headline Channel
		for _, c := range p.Channels {
			cols = append(cols, fmt.Sprint(c.Deployments))
			if c.Channel == r.Channel {
				headline = c
			}
		}
		lead50, _ := headline.LeadTime.Median()
		lead90, _ := headline.LeadTime.P90()
		restore, _ := headline.TimeToRestore.Median()
		cols = append(cols,
			fmt.Sprintf("%.2f", headline.DeploymentsPerWeek),
			fmt.Sprint(headline.Promotions),
			orDash(headline.LeadTime.Count, FormatDuration(lead50)),
			orDash(headline.LeadTime.Count, FormatDuration(lead90)),
			failureRate(headline.ChangeFailure),
			orDash(headline.TimeToRestore.Count, FormatDuration(restore)),
			fmt.Sprint(headline.RollOffs),
		)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `
Deployments: first-parent commits that change a channel's version in channels/<product>.yaml (roll-offs of recalled releases apart);
promoted: those made by syncd promote ("promote <product> <version>: <from> -> <to>", also as the head of a merged branch).
Lead time: from the first commit containing products/<product>/releases/<version>/ to the release's first deployment to %[1]s.
Change failure: releases deployed to %[1]s in the window and recalled after. Restore: from the deployment of a recalled release on %[1]s to its recall.
p50, p90: nearest-rank percentiles. Times are committer times. Definitions: docs/operations.md, DORA metrics.
`, r.Channel)
	return err
}

func orDash(n int, s string) string {
	if n == 0 {
		return "-"
	}
	return s
}

func failureRate(f Failures) string {
	if f.Rate == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", f.Failed, f.Releases, *f.Rate*100)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
