// Package promote moves releases from channel to channel (SPEC §5).
//
// Evaluate is a pure function: from the loaded fleet repo, when each
// channel's version landed (the history of channels/<product>.yaml), the
// sites' status reports and the current time, it decides for each product
// and stage whether to promote, recall, wait or hold the release (blocked),
// with a reason, the evidence and when to evaluate again. The Promoter
// fetches those inputs from Git, evaluates, and commits the decisions back
// (Commit, Recall edit the files as YAML nodes so comments survive).
package promote
