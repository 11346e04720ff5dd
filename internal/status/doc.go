// Package status keeps what a site's syncd knows about its products (SPEC §4):
// the applied revision and, per product, version, health and when it last
// changed, recent health transitions, drift corrected and open conflicts.
//
// Update folds a reconcile.Report into the previous SiteStatus. A Store keeps
// the result in a ConfigMap in syncd's namespace, so `syncd status` and a
// restarted daemon see it, and a Publisher pushes it to the fleet repo as the
// single commit of branch syncd/status/<site>, where the promoter and
// `syncd fleet status` read the fleet's state from Git alone.
package status
