//go:build !linux

package main

import "time"

// adoptOrphans does nothing outside Linux.
func adoptOrphans() error { return nil }

// killChildren does nothing outside Linux: there the demo relies on stopping
// each process group it started.
func killChildren(time.Duration) []string { return nil }
