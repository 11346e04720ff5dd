package gitsource

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock(2) on a file next to the local repository,
// held while a Source changes or reads it, so that processes sharing one
// cache directory take turns (SPEC §4). The lock dies with the process.
type fileLock struct{ f *os.File }

// lockFile waits for the exclusive lock on path, creating the file when
// needed. flock cannot be interrupted, so the wait runs in a goroutine; when
// ctx ends first, the goroutine releases the lock as soon as it gets it.
func lockFile(ctx context.Context, path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the cache lock: %w", err)
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		return &fileLock{f: f}, nil
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("locking the cache %s: %w", path, err)
		}
		return &fileLock{f: f}, nil
	case <-ctx.Done():
		go func() {
			<-done
			_ = f.Close() // closing releases the lock
		}()
		return nil, fmt.Errorf("waiting for the cache lock %s (held by another syncd process): %w", path, ctx.Err())
	}
}

// unlock releases the lock.
func (l *fileLock) unlock() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	_ = l.f.Close()
}
