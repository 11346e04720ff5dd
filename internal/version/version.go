// Package version holds syncd's build identity, stamped by the linker.
package version

// Version and Commit are set with -ldflags "-X ...". They keep these values
// when syncd is built without the Makefile (for example by `go test`).
var (
	// Version is the release version of syncd.
	Version = "v0.0.0-dev"
	// Commit is the Git commit syncd was built from.
	Commit = "unknown"
)
