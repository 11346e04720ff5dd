package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/syncd-dev/syncd/internal/conflict"
)

// conflictsResource names the Conflict resource in messages.
const conflictsResource = "conflicts.syncd.dev"

// maxTableValue is the widest a Git or live value gets in the table; `show`
// prints it whole.
const maxTableValue = 32

func newConflictsCommand(s *streams) *cobra.Command {
	c := group(&cobra.Command{
		Use:   "conflicts",
		Short: "List, show and resolve Git-versus-live conflicts",
		Long: `Conflicts are fields that Git sets and another field manager owns with a
different value, held under the manual strategy (docs/concepts.md, "Conflicts"). They live in the
cluster as conflicts.syncd.dev objects in syncd's namespace, so these commands
need only a kubeconfig, whether or not syncd runs; RBAC on conflicts.syncd.dev
decides who may see and resolve them.`,
	})
	c.AddCommand(newConflictsListCommand(s), newConflictsShowCommand(s), newConflictsResolveCommand(s))
	return c
}

func newConflictsListCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var output string
	var allStates bool
	cmd := &cobra.Command{
		Use:   "list [--site S] [--all-states] [-o table|yaml|json]",
		Short: "List conflicts (open ones unless --all-states)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "yaml", "json"); err != nil {
				return err
			}
			store, _, err := conflictStore(cmd, f)
			if err != nil {
				return err
			}
			all, err := store.List(cmd.Context(), f.site)
			if err != nil {
				return explainAPIError(err, "list", "", f.namespace)
			}
			var shown []conflict.Conflict
			for _, c := range all {
				if allStates || isOpen(c) {
					shown = append(shown, c)
				}
			}
			switch output {
			case "table":
				if len(shown) == 0 {
					which := "open conflicts"
					if allStates {
						which = "conflicts"
					}
					fmt.Fprintf(s.err, "No %s in namespace %s.\n", which, f.namespace)
					return nil
				}
				return printConflictTable(s.out, shown, time.Now())
			default:
				list := &conflict.ConflictList{Items: shown}
				list.APIVersion, list.Kind = conflict.GroupVersion.String(), "ConflictList"
				for i := range list.Items {
					forDisplay(&list.Items[i])
				}
				return printObject(s.out, list, output)
			}
		},
	}
	f.addKube(cmd.Flags())
	cmd.Flags().StringVar(&f.site, "site", "", "only this site's conflicts")
	cmd.Flags().BoolVar(&allStates, "all-states", false, "also list resolved and superseded conflicts")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	return cmd
}

func newConflictsShowCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "show ID [-o yaml|json]",
		Short: "Show one conflict",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "yaml", "json"); err != nil {
				return err
			}
			store, _, err := conflictStore(cmd, f)
			if err != nil {
				return err
			}
			c, err := store.Get(cmd.Context(), args[0])
			if err != nil {
				return explainAPIError(err, "get", args[0], f.namespace)
			}
			forDisplay(c)
			return printObject(s.out, c, output)
		},
	}
	f.addKube(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func newConflictsResolveCommand(s *streams) *cobra.Command {
	f := &commonFlags{}
	var keep string
	cmd := &cobra.Command{
		Use:   "resolve ID --keep git|server",
		Short: "Resolve a conflict: keep Git's value or the live one",
		Long: `Record an admin's decision on a conflict. --keep git makes syncd force Git's
value on its next reconcile; --keep server accepts the live value until Git's
value for that field changes. The resolution names you as the API server
authenticates you, and needs RBAC verb update on conflicts.syncd.dev.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if keep != conflict.KeepGit && keep != conflict.KeepServer {
				return withCode(ExitError, fmt.Errorf("--keep must be %s or %s, not %q", conflict.KeepGit, conflict.KeepServer, keep))
			}
			store, cl, err := conflictStore(cmd, f)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			user, err := whoAmI(ctx, cl)
			if err != nil {
				return withCode(ExitError, err)
			}
			before, err := store.Get(ctx, id)
			if err != nil {
				return explainAPIError(err, "get", id, f.namespace)
			}
			after, err := store.Resolve(ctx, id, keep, user)
			if err != nil {
				return explainAPIError(err, "update", id, f.namespace)
			}
			if r := before.Spec.Resolution; r != nil {
				fmt.Fprintf(s.err, "note: this replaces %s's resolution of %s (keep %s)\n", r.By, r.At.UTC().Format(time.RFC3339), r.Keep)
			}
			if after.Status.State == conflict.Superseded {
				fmt.Fprintf(s.err, "note: conflict %s is superseded; the resolution takes effect only if it opens again\n", id)
			}
			_, err = fmt.Fprintln(s.out, resolvedMessage(after))
			return err
		},
	}
	f.addKube(cmd.Flags())
	cmd.Flags().StringVar(&keep, "keep", "", "git (force Git's value) or server (accept the live value until Git changes)")
	return cmd
}

// conflictStore reads the kube flags (and SYNCD_* variables) and returns a
// Store over syncd's namespace with the client under it, which knows the
// Conflict types.
func conflictStore(cmd *cobra.Command, f *commonFlags) (*conflict.Store, client.Client, error) {
	if err := bindEnv(cmd); err != nil {
		return nil, nil, withCode(ExitError, err)
	}
	cfg, err := f.restConfig()
	if err != nil {
		return nil, nil, withCode(ExitError, err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: conflict.Scheme()})
	if err != nil {
		return nil, nil, withCode(ExitError, fmt.Errorf("connecting to the cluster at %s: %w", cfg.Host, err))
	}
	return conflict.NewStore(cl, f.namespace), cl, nil
}

// whoAmI returns the user name the API server authenticates this client as.
func whoAmI(ctx context.Context, cl client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := cl.Create(ctx, review); err != nil {
		return "", fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("the API server did not say who you are (empty SelfSubjectReview user name)")
	}
	return review.Status.UserInfo.Username, nil
}

// explainedError is an API error told in the terms of the command; it
// unwraps to the API error.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

// explainAPIError turns err from verb on Conflict id (empty for list) in
// namespace ns into a message an admin can act on, with exit code 2.
func explainAPIError(err error, verb, id, ns string) error {
	var msg string
	switch {
	case apierrors.IsNotFound(err) && id != "":
		msg = fmt.Sprintf("conflict %s not found in namespace %s", id, ns)
	case apierrors.IsForbidden(err):
		what := fmt.Sprintf("%s %s in namespace %s", verb, conflictsResource, ns)
		if id != "" {
			what = fmt.Sprintf("%s %s %s in namespace %s", verb, conflictsResource, id, ns)
		}
		msg = fmt.Sprintf("forbidden: you may not %s (RBAC: needs verb %q on resource \"conflicts\" in API group %q)",
			what, verb, conflict.GroupVersion.Group)
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Message != "" {
			msg += ": " + status.Status().Message
		}
	case meta.IsNoMatchError(err):
		msg = fmt.Sprintf("the %s CRD is not installed in this cluster: syncd installs it when it starts, and the Helm chart ships it", conflictsResource)
	default:
		return withCode(ExitError, err)
	}
	return withCode(ExitError, &explainedError{msg: msg, err: err})
}

// checkOutput fails unless output is one of allowed.
func checkOutput(output string, allowed ...string) error {
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return withCode(ExitError, fmt.Errorf("-o %q: want one of %s", output, strings.Join(allowed, ", ")))
}

// isOpen reports whether c waits for an admin. A Conflict without a state
// is one syncd created and has not finished recording: open too.
func isOpen(c conflict.Conflict) bool {
	return c.Status.State == conflict.Open || c.Status.State == ""
}

// forDisplay sets c's kind and drops its managed fields, as kubectl does.
func forDisplay(c *conflict.Conflict) {
	c.APIVersion, c.Kind = conflict.GroupVersion.String(), "Conflict"
	c.ManagedFields = nil
}

// printObject writes v as YAML or indented JSON.
func printObject(w io.Writer, v any, output string) error {
	var (
		b   []byte
		err error
	)
	if output == "json" {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return withCode(ExitError, fmt.Errorf("encoding %s: %w", output, err))
	}
	_, err = w.Write(b)
	return err
}

// printConflictTable writes conflicts as a table; ages are taken at now.
func printConflictTable(w io.Writer, conflicts []conflict.Conflict, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tOBJECT\tFIELD\tMANAGER\tGIT\tLIVE\tSTATE\tAGE")
	for _, c := range conflicts {
		since := c.Status.FirstSeen.Time
		if since.IsZero() {
			since = c.CreationTimestamp.Time
		}
		age := "<unknown>"
		if !since.IsZero() {
			age = duration.HumanDuration(now.Sub(since))
		}
		state := string(c.Status.State)
		if state == "" {
			state = "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.Name, objectName(c.Spec.Object), c.Spec.Field, c.Spec.Manager,
			cell(c.Status.GitValue), cell(c.Status.LiveValue), state, age)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

// cell fits a value into a table cell: one line, at most maxTableValue
// characters, "<none>" when empty.
func cell(v string) string {
	if v == "" {
		return "<none>"
	}
	v = strings.Join(strings.Fields(v), " ")
	if r := []rune(v); len(r) > maxTableValue {
		return string(r[:maxTableValue-3]) + "..."
	}
	return v
}

// objectName is Kind/namespace/name, or Kind/name for a cluster-scoped object.
func objectName(o conflict.ObjectRef) string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// resolvedMessage says what a resolution will make syncd do.
func resolvedMessage(c *conflict.Conflict) string {
	obj := objectName(c.Spec.Object)
	if c.Spec.Resolution.Keep == conflict.KeepGit {
		return fmt.Sprintf("conflict %s resolved: keeping git's value for %s of %s; syncd applies it on its next reconcile",
			c.Name, c.Spec.Field, obj)
	}
	return fmt.Sprintf("conflict %s resolved: keeping the live value (set by %s) for %s of %s until Git's value for it changes",
		c.Name, c.Spec.Manager, c.Spec.Field, obj)
}
