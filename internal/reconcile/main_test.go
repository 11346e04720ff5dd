package reconcile

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// cluster is the API server shared by this package's integration tests; each
// test uses its own site and namespaces.
var cluster *testenv.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		c, err := testenv.StartCluster(context.Background(), testenv.ClusterOptions{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cluster = c
	}
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// sharedCluster returns the package's cluster, skipping in -short mode.
func sharedCluster(t *testing.T) *testenv.Cluster {
	t.Helper()
	if cluster == nil {
		t.Skip("integration test skipped in -short mode: needs kube-apiserver")
	}
	return cluster
}
