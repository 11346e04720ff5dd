# syncd — build, test and demo entry points. See README.md.

SHELL := /usr/bin/env bash
export GOTOOLCHAIN := local

K8S_VERSION  ?= 1.36.3
ETCD_VERSION ?= 3.6.8
KWOK_VERSION ?= 0.8.0
FLUX_VERSION ?= 1.9.6
TESTBIN      := $(CURDIR)/bin/k8s/$(K8S_VERSION)
FLUXBIN      := $(CURDIR)/bin/flux/$(FLUX_VERSION)
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
COMMIT       ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS      := -X github.com/syncd-dev/syncd/internal/version.Version=$(VERSION) \
                -X github.com/syncd-dev/syncd/internal/version.Commit=$(COMMIT)
K8S_LDFLAGS  := -s -w -X k8s.io/component-base/version.gitVersion=v$(K8S_VERSION) \
                -X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(K8S_VERSION))) \
                -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))) \
                -X k8s.io/component-base/version.gitTreeState=clean
# One package at a time: each integration package starts its own control plane,
# and two of them at once on 2 cores make timing-sensitive tests flaky.
GO_TEST_FLAGS ?= -count=1 -p 1 -timeout 40m
# Tests find the control plane here (controller-runtime envtest convention).
export KUBEBUILDER_ASSETS := $(TESTBIN)

.PHONY: all build test unit lint bench bench-flux demo testbin clean fuzz race e2e docs chaos bench-fleet

all: build

## build: the syncd binary in bin/syncd
# Without cgo, as the image (Dockerfile) builds it: with cgo, kustomize's
# import of Go's plugin package makes the linker export every symbol, and the
# daemon's resident set carries some 30 MiB more of the binary's pages.
build:
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/syncd ./cmd/syncd

## docs: the CLI reference docs/cli/*.md, generated from the commands (a test fails when it is stale)
docs:
	go run ./hack/gendocs -out docs/cli

## testbin: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok, built once
testbin: $(TESTBIN)/.complete

$(TESTBIN)/.complete: hack/tools/k8s/go.mod hack/tools/etcd/go.mod hack/tools/kwok/go.mod
	@mkdir -p $(TESTBIN)
	@echo ">> building Kubernetes v$(K8S_VERSION) control plane into $(TESTBIN) (first time: several minutes)" >&2
	cd hack/tools/k8s && go build -trimpath -ldflags "$(K8S_LDFLAGS)" -o $(TESTBIN)/ \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
	@echo ">> building etcd v$(ETCD_VERSION)" >&2
	cd hack/tools/etcd && go build -trimpath -ldflags "-s -w" -o $(TESTBIN)/etcd ./cmd/etcd
	@echo ">> building kwok v$(KWOK_VERSION)" >&2
	cd hack/tools/kwok && go build -trimpath -ldflags "-s -w" -o $(TESTBIN)/kwok sigs.k8s.io/kwok/cmd/kwok
	cd hack/tools/kwok && go run ./cmd/kwok-stages > $(TESTBIN)/kwok-stages.yaml
	@touch $@

## test: unit and integration tests against a real kube-apiserver and a real sshd
test: testbin
	go test $(GO_TEST_FLAGS) ./...

## unit: the tests that need neither a cluster nor sshd
unit:
	go test -short $(GO_TEST_FLAGS) ./...

## e2e: promotion end to end across three `syncd run` daemons, each with its own control plane (about a minute; also part of `make test`)
e2e: testbin
	go test $(GO_TEST_FLAGS) -v -run TestPromotionFlowsAndRecallRollsBack ./internal/e2e/

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	go vet ./...

## race: the tests of the packages that run goroutines against shared state, under the race detector
# The daemon's tests also drive reconcile (products applied concurrently) and
# gitsource (fetches beside status pushes) under the detector: the race build
# instruments every package of the test binary.
RACE_PKGS ?= ./internal/daemon/ ./internal/promote/
race: testbin
	go test -race $(GO_TEST_FLAGS) $(RACE_PKGS)

## fuzz: run every fuzz target for FUZZTIME each
FUZZTIME ?= 20s
fuzz:
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' internal cmd hack 2>/dev/null | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo ">> ./$$dir $$f"; go test ./$$dir -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

## bench: measured figures (objects/s, latency, RSS) beside kubectl and git; fleet diff of a 200-site fleet
bench: testbin build
	go test -run '^$$' -bench . -benchtime 5x ./internal/fleetdiff/
	go run ./hack/bench

## bench-flux: syncd beside Flux (source-controller + kustomize-controller, built on first use into bin/flux) and kubectl on the same 2,000 objects (minutes; not in `make test` or CI)
# Flux is built from hack/tools/flux (its own go.mod), niced: the machine is
# shared. Its CRDs are read from the same modules in the module cache.
BENCH_FLUX_FLAGS ?= -pushes 10 -edits 10
bench-flux: testbin build $(FLUXBIN)/.complete
	go run ./hack/bench -only flux -flux-bin $(FLUXBIN) $(BENCH_FLUX_FLAGS) -flux-crds "$$(cd hack/tools/flux && \
		for m in github.com/fluxcd/source-controller github.com/fluxcd/kustomize-controller; do \
		  echo $$(go list -m -f '{{.Dir}}' $$m)/config/crd/bases; done)"

$(FLUXBIN)/.complete: hack/tools/flux/go.mod
	@mkdir -p $(FLUXBIN)
	@echo ">> building Flux source-controller and kustomize-controller v$(FLUX_VERSION) into $(FLUXBIN) (first time: many minutes)" >&2
	cd hack/tools/flux && nice go build -trimpath -ldflags "-s -w" -o $(FLUXBIN)/ \
		github.com/fluxcd/source-controller github.com/fluxcd/kustomize-controller
	@touch $@

## chaos: `syncd run` killed with SIGKILL at random points over 100 syncs of 500 objects, then converged: orphans, lost objects, time to converge (minutes; not in `make test` or CI)
CHAOS_FLAGS ?=
chaos: testbin
	go run ./hack/chaos $(CHAOS_FLAGS)

## bench-fleet: N site daemons (`syncd run` each, one with --promote) polling one OpenSSH Git server every 15 s: idle Git load, commit -> all applied, promoter evaluation, RSS per daemon (BENCH_FLEET_FLAGS=-sites 10,50; minutes; not in `make test` or CI)
BENCH_FLEET_FLAGS ?=
bench-fleet: testbin
	go run ./hack/benchfleet $(BENCH_FLEET_FLAGS)

## demo: two sites (each its own control plane and `syncd run`), a local SSH git server with the example fleet, a release promoted while you watch
DEMO_FLAGS ?=
demo: testbin
	go run ./hack/demo $(DEMO_FLAGS)

## clean: remove build outputs (keeps the cached test binaries; `make clean-all` drops them too)
clean:
	rm -rf bin/syncd _output

clean-all: clean
	rm -rf bin
