package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/syncd-dev/syncd/internal/conflict"
	"github.com/syncd-dev/syncd/internal/status"
)

// maxNote is the widest a note gets in the status table; -o yaml prints it
// whole.
const maxNote = 80

func newStatusCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "status [--site S] [-o table|yaml|json]",
		Short: "Show this site's revision, products, health, drift and conflicts",
		Long: `Print the status syncd keeps in the cluster for a site: the revision it
applied, when, what failed last, and per product the version, health and
since when, objects, drift corrected by the last sync, and open conflicts
(counted now, from conflicts.syncd.dev). Only a kubeconfig is needed; without
--site, the one site with a status in the namespace is shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return withCode(ExitError, err)
			}
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			cl, err := f.kubeClient()
			if err != nil {
				return withCode(ExitError, err)
			}
			ctx := cmd.Context()
			site, err := statusSite(ctx, cl, f)
			if err != nil {
				return err
			}
			st, err := status.NewStore(cl, f.namespace, site).Load(ctx)
			if err != nil {
				return withCode(ExitError, err)
			}
			if st == nil {
				return withCode(ExitError, fmt.Errorf("no status for site %s in namespace %s: has syncd synced this site?", site, f.namespace))
			}
			if err := countOpenConflicts(ctx, cl, f.namespace, st); err != nil {
				fmt.Fprintf(s.err, "note: showing the conflict counts of the last sync: %v\n", err)
			}
			if output == "table" {
				return printStatus(s.out, st, time.Now())
			}
			return printObject(s.out, st, output)
		},
	}
	f.addKube(cmd.Flags())
	f.addSite(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

// statusSite is --site, or else the only site with a status in the namespace.
func statusSite(ctx context.Context, cl client.Reader, f *commonFlags) (string, error) {
	if f.site != "" {
		return f.site, nil
	}
	sites, err := status.Sites(ctx, cl, f.namespace)
	if err != nil {
		return "", withCode(ExitError, err)
	}
	switch len(sites) {
	case 0:
		return "", withCode(ExitError, fmt.Errorf("no site status in namespace %s: has syncd synced a site here? (or pass --site and --namespace)", f.namespace))
	case 1:
		return sites[0], nil
	}
	return "", withCode(ExitError, fmt.Errorf("namespace %s holds the status of several sites (%s): pick one with --site", f.namespace, strings.Join(sites, ", ")))
}

// countOpenConflicts sets each product's conflict count to the open
// conflicts the cluster holds now, which an admin may have resolved since the
// last sync. Without the Conflict CRD there are none to count and st is left
// as it is; an error also leaves st as it is.
func countOpenConflicts(ctx context.Context, cl client.Client, namespace string, st *status.SiteStatus) error {
	list, err := conflict.NewStore(cl, namespace).List(ctx, st.Site)
	if meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return err
	}
	open := status.OpenConflicts(list)
	for i := range st.Products {
		st.Products[i].Conflicts = open[st.Products[i].Name]
	}
	return nil
}

// printStatus writes st as a heading and a table of products; ages are taken
// at now.
func printStatus(w io.Writer, st *status.SiteStatus, now time.Time) error {
	rev := "no revision yet"
	switch {
	case st.Revision != "":
		rev = "revision " + shortSHA(st.Revision)
	case len(st.Products) > 0:
		// A sync from --repo-dir reads files, not a commit.
		rev = "no Git revision (synced from a directory)"
	}
	updated := "at an unknown time"
	if !st.UpdatedAt.IsZero() {
		updated = statusAge(now, st.UpdatedAt) + " ago"
	}
	fmt.Fprintf(w, "site %s at %s (updated %s)\n", st.Site, rev, updated)
	if st.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", st.LastError)
	}
	if st.Commits != nil {
		fmt.Fprintf(w, "commit verification: %s\n", st.Commits)
	}
	writeCompliance(w, st.Compliance)
	if len(st.Products) == 0 {
		_, err := fmt.Fprintln(w, "no products at this site")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "PRODUCT\tVERSION\tHEALTH\tSINCE\tOBJECTS\tDRIFT\tCONFLICTS\tNOTE")
	for _, p := range st.Products {
		version := p.Version
		if version == "" {
			version = "<none>"
		}
		since := "<unknown>"
		if !p.Since.IsZero() {
			since = statusAge(now, p.Since)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n",
			p.Name, version, p.Health, since, p.Objects, p.Drift, p.Conflicts, noteCell(p.Note))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// statusAge is how long before now t was, as kubectl prints ages; a t in the
// future (clock skew) is 0s.
func statusAge(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return duration.HumanDuration(d)
}

// noteCell fits a note into a table cell: one line, at most maxNote
// characters.
func noteCell(v string) string {
	v = strings.Join(strings.Fields(v), " ")
	if r := []rune(v); len(r) > maxNote {
		return string(r[:maxNote-3]) + "..."
	}
	return v
}
