// Package promote will evaluate each product's pipeline and commit channel
// bumps to the fleet repo (SPEC §5: timed and canary stages, maintenance
// windows, recall, pull-request approval). It is not implemented yet: the
// `syncd promote` command says so and exits 2.
package promote
