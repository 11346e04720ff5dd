// Package fleet is the typed model of a fleet repo (SPEC §2): it reads
// fleet.yaml, sites, products, releases, channels and keys from an fs.FS,
// decodes every file strictly, validates names, versions, schedules and
// references, and answers the questions the reconciler and the promoter ask:
// which products target a site, which version of a product a site runs, and
// in which order products must be applied.
//
// Every problem is reported as an *Error naming the file, the line and the
// field, and Load reports all problems at once so they can be fixed in one
// pass.
package fleet
