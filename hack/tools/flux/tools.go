//go:build tools

// Package tools pins the Flux controllers built by `make bench-flux`.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
