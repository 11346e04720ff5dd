package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/client-go/kubernetes"

	"github.com/syncd-dev/syncd/internal/testenv"
)

// Issue 13, item 7: a replica that stops releases the Lease only after its
// reconciling has stopped, so the next leader never acts beside it. Replica
// a takes a while to wind down (as a reconcile mid-apply does); replica b
// must not start leading before a's run has returned.
func TestLeaderStopsReconcilingBeforeReleasingTheLease(t *testing.T) {
	c := testenv.NewCluster(t, testenv.ClusterOptions{})
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(id string) LeaderConfig {
		return LeaderConfig{Namespace: "default", Name: "syncd-handover", Identity: id,
			LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 200 * time.Millisecond}
	}
	var aRunning atomic.Bool
	aLeading, bLeading := make(chan struct{}), make(chan struct{})
	var aRunningWhenBStarted atomic.Bool
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() {
		doneA <- RunAsLeader(ctxA, cs, cfg("replica-a"), hclog.NewNullLogger(), func(ctx context.Context) error {
			aRunning.Store(true)
			defer aRunning.Store(false)
			close(aLeading)
			<-ctx.Done()
			// Winding down: still acting until b leads, or a while.
			select {
			case <-bLeading:
			case <-time.After(2 * time.Second):
			}
			return nil
		})
	}()
	select {
	case <-aLeading:
	case <-time.After(30 * time.Second):
		t.Fatal("replica-a never led")
	}
	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() {
		doneB <- RunAsLeader(ctxB, cs, cfg("replica-b"), hclog.NewNullLogger(), func(ctx context.Context) error {
			aRunningWhenBStarted.Store(aRunning.Load())
			close(bLeading)
			<-ctx.Done()
			return nil
		})
	}()
	cancelA()
	// b leads well before the Lease would expire (20s), because a releases it.
	select {
	case <-bLeading:
	case <-time.After(15 * time.Second):
		t.Fatal("replica-b did not take over after replica-a released the Lease")
	}
	if aRunningWhenBStarted.Load() {
		t.Error("replica-b started leading while replica-a was still reconciling")
	}
	if err := <-doneA; err != nil {
		t.Errorf("replica-a stopped with %v", err)
	}
	cancelB()
	<-doneB
}
