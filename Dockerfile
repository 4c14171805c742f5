# Portier server image: one static binary on distroless, run as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t portier .
#
# The image has no shell, so it has no HEALTHCHECK: let the orchestrator
# probe GET /healthz and /readyz over HTTPS on port 8443 (see
# deploy/compose and deploy/helm, and docs/operations.md).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# -buildvcs=false: the build context carries no .git, so the commit is not
# stamped; `portier version` shows VERSION and "commit unknown".
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/portier/portier/cli.Version=${VERSION}" \
      -o /out/portier ./cmd/portier \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portier /usr/local/bin/portier
# The data dir belongs to the nonroot user (65532), mode 0700, so a fresh
# named volume mounted there starts with that owner.
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/portier
ENV PORTIER_DATA_DIR=/var/lib/portier \
    PORTIER_LISTEN=:8443
USER 65532:65532
VOLUME ["/var/lib/portier"]
# 8443: HTTPS (console, API, proxy). 9464: /metrics, which listens only on
# 127.0.0.1 unless you pass --metrics-listen :9464.
EXPOSE 8443 9464
ENTRYPOINT ["/usr/local/bin/portier"]
CMD ["serve"]
