// Package conflict decides what happens when a field that Git sets is owned
// by another field manager with a different value (SPEC §3): it detects such
// conflicts from a non-forced server-side apply dry run, picks the strategy
// (git_wins, server_wins or manual) by the most specific rule, and keeps
// manual conflicts as conflicts.syncd.dev objects in the cluster.
package conflict
