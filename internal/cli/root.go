// Package cli implements the syncd command line (SPEC §6) with cobra.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/syncd-dev/syncd/internal/version"
)

// Exit codes shared by every command.
const (
	ExitOK    = 0
	ExitDiff  = 1 // `syncd diff` found differences
	ExitError = 2
)

// ExitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that Execute exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// streams are the standard streams a command reads and writes.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// Execute runs the syncd command line with args and returns the process exit code.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := NewRootCommand(in, out, errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code != ExitDiff {
			fmt.Fprintf(errOut, "error: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(errOut, "error: %v\n", err)
	return ExitError
}

// NewRootCommand builds the syncd command tree writing to the given streams.
func NewRootCommand(in io.Reader, out, errOut io.Writer) *cobra.Command {
	s := &streams{in: in, out: out, err: errOut}
	root := &cobra.Command{
		Use:           "syncd",
		Short:         "Git-driven pull reconciler for fleets of Kubernetes sites",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.AddCommand(
		newVersionCommand(s),
		newKeygenCommand(s),
		newKnownHostsCommand(s),
		newRunCommand(s),
		newSyncCommand(s),
		newDiffCommand(s),
		newRenderCommand(s),
		newValidateCommand(s),
		newStatusCommand(s),
		newConflictsCommand(s),
		newPromoteCommand(s),
		newFleetCommand(newFleetStatusCommand(s), newFleetServeCommand(s), newFleetDiffCommand(s), newFleetDoraCommand(s)),
		newBundleCommand(s),
	)
	return root
}

func newVersionCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print syncd's version and commit",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(s.out, "syncd %s (commit %s)\n", version.Version, version.Commit)
			return err
		},
	}
}

// group makes a command that only holds subcommands fail on an unknown one,
// instead of printing help and exiting 0.
func group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return withCode(ExitError, fmt.Errorf("unknown command %q for %q; see `%s --help`", args[0], cmd.CommandPath(), cmd.CommandPath()))
		}
		return cmd.Help()
	}
	return c
}
