# syntax=docker/dockerfile:1
# syncd's container image: a static binary on distroless, running as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg COMMIT=$(git rev-parse --short HEAD) -t ghcr.io/syncd-dev/syncd:dev .
#
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ...
# (the builder runs natively and cross-compiles; the binary needs no cgo).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/syncd-dev/syncd/internal/version.Version=${VERSION} -X github.com/syncd-dev/syncd/internal/version.Commit=${COMMIT}" \
      -o /out/syncd ./cmd/syncd

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/syncd /syncd
# The distroless nonroot user; the Helm chart runs as the same UID and GID.
USER 65532:65532
# /metrics, /healthz, /readyz and POST /hooks/git (--listen, default :9090).
EXPOSE 9090
ENTRYPOINT ["/syncd"]
CMD ["run"]
