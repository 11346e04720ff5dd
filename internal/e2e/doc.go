// Package e2e holds end-to-end tests of syncd as users run it: real `syncd`
// processes against their own API servers, a fleet repo behind a real sshd.
// It has no code of its own.
package e2e
