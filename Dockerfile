# syntax=docker/dockerfile:1
# Multi-stage build of a static, non-root gateway image. The build step
# below is run as a script by deploy/deploy_test.go (Docker itself is not
# needed for that test): keep it one `RUN CGO_ENABLED=0 go build` line.
# The base images are pinned to version tags (deploy_test checks none is
# latest); for reproducible production builds pin them by digest
# (FROM golang:1.26@sha256:...), and tag the image you push with a version.

FROM golang:1.26 AS build
WORKDIR /src
# The gateway's module alone, without the go.work of the repository: its
# go.mod points the client and protocol modules at their directories (see
# README, "Layout").
ENV GOWORK=off
COPY go.mod go.sum ./
COPY protocol/go.mod protocol/
COPY client/go.mod client/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gateway ./cmd/gateway

# distroless/static: no shell, no libc, user 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
USER 65532:65532
ENV GATEWAY_ADDR=0.0.0.0:8080
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 CMD ["/gateway", "healthcheck"]
ENTRYPOINT ["/gateway"]
CMD ["serve"]
