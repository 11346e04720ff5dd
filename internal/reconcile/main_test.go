package reconcile

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// cluster is the API server shared by this package's integration tests; each
// test uses its own site and namespaces.
var cluster *testenv.Cluster

// full is the package's second cluster, with controllers, a scheduler and a
// kwok node, started by the first test that needs it.
var full struct {
	once    sync.Once
	cluster *testenv.Cluster
	err     error
}

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
	if full.cluster != nil {
		if err := full.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
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

// fullCluster returns the package's full cluster (controllers, scheduler and
// a kwok node), starting it on first use; it skips in -short mode.
func fullCluster(t *testing.T) *testenv.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped in -short mode: needs a full control plane")
	}
	full.once.Do(func() {
		full.cluster, full.err = testenv.StartCluster(context.Background(), testenv.ClusterOptions{Full: true})
	})
	if full.err != nil {
		t.Fatalf("starting the full test cluster: %v", full.err)
	}
	return full.cluster
}
