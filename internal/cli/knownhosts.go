package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/syncd-dev/syncd/internal/gitsource"
)

func newKnownHostsCommand(s *streams) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "known-hosts HOST[:PORT]",
		Short: "Print a known_hosts line for a Git server",
		Long: `Connect to the SSH server HOST[:PORT] (port 22 by default; a repo URL such
as git@github.com:org/fleet.git works too), show the fingerprints of the host
keys it offers on stderr, and print the known_hosts lines to add on stdout:

  syncd known-hosts github.com >> known_hosts

Check the fingerprints against the ones the Git host publishes before trusting
them: this command cannot tell the real server from an impostor.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := serverAddress(args[0])
			if err != nil {
				return withCode(ExitError, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			keys, err := gitsource.ScanHostKeys(ctx, addr)
			if err != nil {
				return withCode(ExitError, err)
			}
			host := knownhosts.Normalize(addr)
			for _, k := range keys {
				fmt.Fprintf(s.err, "%s offers %s key %s\n", host, k.Type(), ssh.FingerprintSHA256(k))
			}
			fmt.Fprintln(s.err, "Check these fingerprints against the ones the Git host publishes before adding the lines below to your known_hosts file.")
			for _, k := range keys {
				if _, err := fmt.Fprintln(s.out, gitsource.KnownHostsLine(addr, k)); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the server")
	return c
}

// serverAddress reads HOST, HOST:PORT, [HOST]:PORT or a repository URL as
// host:port.
func serverAddress(arg string) (string, error) {
	addr, err := gitsource.HostPort(arg)
	if err == nil {
		return addr, nil
	}
	// HOST:99999 is a bad port, not the scp-like URL of a repository "99999".
	if i := strings.LastIndexByte(arg, ':'); i >= 0 && strings.Trim(arg[i+1:], "0123456789") == "" {
		return "", err
	}
	if ep, uerr := gitsource.ParseURL(arg); uerr == nil && ep.Scheme == "ssh" {
		return ep.Address(), nil
	}
	return "", err
}
