// Command syncd is a Git-driven pull reconciler: one daemon per site renders
// the fleet repo's products for that site and applies them with server-side apply.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/syncd-dev/syncd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
