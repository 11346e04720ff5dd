package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
//
// When ctx ends, run is stopped and waited for before the Lease is released:
// client-go's ReleaseOnCancel would release it as soon as ctx ends, while run
// may still be applying, and the next leader would act beside it.
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
		ReleaseOnCancel: false, // released by release, once run has returned
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
	if ctx.Err() != nil {
		if err := release(ctx, lock, cfg.Identity); err != nil {
			log.Warn("releasing the Lease failed; the next leader waits for it to expire", "error", err)
		} else {
			log.Info("released the Lease", "identity", cfg.Identity)
		}
	}
	if runErr != nil || ctx.Err() != nil {
		return runErr
	}
	return ErrLostLeadership
}

// release gives the Lease up, if identity still holds it, as client-go does
// on cancel: no holder, a one-second duration.
func release(ctx context.Context, lock resourcelock.Interface, identity string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rec, _, err := lock.Get(ctx)
	if err != nil {
		return err
	}
	if rec.HolderIdentity != identity {
		return nil
	}
	now := metav1.NewTime(time.Now())
	return lock.Update(ctx, resourcelock.LeaderElectionRecord{
		LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
	})
}
