package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrLostLeadership is returned by RunAsLeader when another replica took over.
var ErrLostLeadership = errors.New("lost leadership")

// LeaderConfig configures leader election with a Lease.
type LeaderConfig struct {
	// Namespace and Name locate the Lease; Identity names this replica.
	Namespace, Name, Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election;
	// client-go's usual 15s/10s/2s when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// RunAsLeader runs run only while this replica holds the Lease, so that of
// several replicas exactly one acts. It returns run's result when ctx ends,
// or ErrLostLeadership (the process should exit and start over).
func RunAsLeader(ctx context.Context, cs kubernetes.Interface, cfg LeaderConfig, log hclog.Logger, run func(context.Context) error) error {
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, cfg.Namespace, cfg.Name,
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: cfg.Identity})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	leadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		runErr            error
		mu                sync.Mutex // orders a late OnStartedLeading against the end of Run
		over, began       bool
		started, finished = make(chan struct{}), make(chan struct{})
	)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) {
				mu.Lock()
				if over {
					mu.Unlock()
					return
				}
				began = true
				close(started)
				mu.Unlock()
				log.Info("leading: this replica reconciles", "identity", cfg.Identity)
				runErr = run(c)
				close(finished)
				cancel()
			},
			OnStoppedLeading: func() { log.Info("not leading", "identity", cfg.Identity) },
			OnNewLeader: func(id string) {
				if id != cfg.Identity {
					log.Info("standing by", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	elector.Run(leadCtx)
	cancel()
	mu.Lock()
	over = true
	wasLeading := began
	mu.Unlock()
	if !wasLeading {
		if ctx.Err() != nil {
			return nil // ctx ended while standing by
		}
		return ErrLostLeadership
	}
	<-started
	<-finished
	if runErr != nil || ctx.Err() != nil {
		return runErr
	}
	return ErrLostLeadership
}
