# One image with every command of the project (s3server, ingest, bridge, worker, starter,
# devbroker) in /usr/local/bin; docker-compose.yml picks one per service with `command`.
#   docker build -t backbeat-temporal/backbeat:dev .
#   docker run --rm backbeat-temporal/backbeat:dev starter --help

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# ./cmd/... : every command under cmd/ (deploy/compose_test.go checks the list).
RUN go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

# debian-slim rather than distroless: curl for the compose healthchecks (/healthz) and a
# shell for `docker compose exec`; ca-certificates for TLS to real S3 endpoints.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin backbeat \
 && mkdir -p /data /etc/backbeat \
 && chown backbeat /data
COPY --from=build /out/ /usr/local/bin/
USER backbeat
WORKDIR /data
# s3server 8000; /metrics and /healthz of ingest 9101, bridge 9102, worker 9103.
EXPOSE 8000 9101 9102 9103
CMD ["starter", "--help"]
