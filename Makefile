# Backbeat on Temporal — build, test, demo.
# `make demo` runs the system on the embedded default; `make test` runs every test.

SHELL      := /bin/bash
GO         ?= go
export PATH := /usr/local/go/bin:$(PATH)
# Build cache under the clone so repeated CI runs on one machine reuse it.
export GOCACHE ?= $(CURDIR)/.cache/go-build
export GOFLAGS ?= -buildvcs=false
TEST_TIMEOUT ?= 20m
BENCH_TIMEOUT ?= 90m
# BENCH_ARGS are BenchmarkSideBySide's flags (e2e/sidebyside_test.go), e.g. the long form
# of docs/BENCHMARKS.md: make bench BENCH_ARGS='-bench.small-count 10000 -bench.large-count 20'
BENCH_ARGS ?=

.PHONY: all build test test-short deps lint bench bench-micro storm demo clean

all: build

## build: compile every command into bin/
build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

## deps: install what the tests and the demo use, when missing: Debian packages
## (scripts/deps.sh), the Temporal dev server CLI, and the Temporal server, schema tool
## and Web UI server of the stack on PostgreSQL (scripts/temporal-postgres.sh) into .tools/
deps:
	@scripts/deps.sh
	@scripts/temporal.sh install
	@scripts/temporal-postgres.sh install

## test: install what tests need, then run every test (unit, integration, crash)
test: deps build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: unit tests only (no external processes)
test-short:
	$(GO) test -short -count=1 ./...

## lint: gofmt and go vet must be clean
lint:
	@u=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$u" ]; then echo "gofmt needed: $$u"; exit 1; fi
	$(GO) vet ./...

## bench: the numbers side by side in one run, on one engine (every process separate):
## a raw copy loop, rclone copy, the engine's backfill and its steady state, for 4 KiB
## and 64 MiB objects; prints a table with ratios to the raw loop (docs/BENCHMARKS.md)
bench: deps build
	$(GO) test ./e2e/ -run '^$$' -bench SideBySide -benchtime 1x -timeout $(BENCH_TIMEOUT) -args $(BENCH_ARGS)

## bench-micro: s3server's own benchmarks (PUT/GET, journal tail)
bench-micro: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./s3server/...

## storm: the long fault storm (>= 5000 writer operations, >= 20 kill -9, outages of
## ZooKeeper, the broker and Temporal) for SEED (default 1); prints the table that goes in
## docs/RELIABILITY.md. TEMPORAL=postgres runs it on the Temporal server on PostgreSQL
## (4 history shards, as docker-compose) and also kills -9 and stops the server and
## PostgreSQL (default dev: the dev server). The short forms (seed 1, on both) run in `make test`.
SEED ?= 1
TEMPORAL ?= dev
storm: build
	STORM_LONG=1 STORM_SEED=$(SEED) STORM_TEMPORAL=$(TEMPORAL) $(GO) test -count=1 -timeout 2h -run '^TestStorm$$' -v ./storm/

## demo: run the system locally on 127.0.0.1 under one supervisor and replay the
## quickstart (see README); DEMO_EXIT=1 stops after the replay (exit 0: COMPLETED/REPLICA);
## DEMO_TEMPORAL=postgres runs the Temporal server on PostgreSQL instead of the dev server
demo: build
	@scripts/demo.sh

clean:
	rm -rf bin .demo
