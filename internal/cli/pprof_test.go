package cli

import (
	"strings"
	"testing"
)

// TestRunRefusesANonLoopbackPprofAddress checks that `syncd run` stops before
// doing anything when --pprof names an address off the host.
func TestRunRefusesANonLoopbackPprofAddress(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "192.0.2.10:6060"} {
		t.Run(addr, func(t *testing.T) {
			r := runConflictsCLI(t, "run", "--site", "s", "--repo", "ssh://git@127.0.0.1:1/fleet.git", "--pprof", addr)
			if r.code != ExitError {
				t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, ExitError, r.errOut)
			}
			if !strings.Contains(r.errOut, "loopback address only") {
				t.Fatalf("stderr does not say why:\n%s", r.errOut)
			}
		})
	}
}
