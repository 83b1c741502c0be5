#!/usr/bin/env bash
# Temporal dev server for tests, CI and the demo.
#
#   scripts/temporal.sh install        # installs the CLI into .tools/bin (idempotent)
#   scripts/temporal.sh path           # prints the binary's path (installs when missing)
#   scripts/temporal.sh start DBFILE [PORT] [UIPORT]
#                                      # execs `temporal server start-dev` on 127.0.0.1
#                                      # (SQLite in DBFILE, Web UI on UIPORT, default
#                                      # 7233/8233) with the project's search attributes
#
# The CLI is installed with `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`
# into a project-local directory, so the server's dependencies stay out of go.mod.
# Newer tags carry replace directives in their go.mod, and `go install pkg@version`
# refuses a module with replace directives.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=v1.5.1
BIN="$ROOT/.tools/bin/temporal"
STAMP="$ROOT/.tools/bin/temporal.version"

install() {
  if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then return 0; fi
  echo "temporal: installing the Temporal CLI $VERSION into .tools/bin (a few minutes the first time)" >&2
  mkdir -p "$ROOT/.tools/bin"
  GOBIN="$ROOT/.tools/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$VERSION" >&2
  echo "$VERSION" > "$STAMP"
}

# SEARCH_ATTRIBUTES: the partition workflows' search attributes (one list for both scripts).
. "$ROOT/scripts/search-attributes.sh"

# DYNAMIC_CONFIG: deploy/temporal/dynamicconfig.yaml (one home for every Temporal the
# project runs), as KEY=VALUE for --dynamic-config-value.
mapfile -t DYNAMIC_CONFIG < <(awk '/^[a-zA-Z]/ { k = $1; sub(/:$/, "", k) } /^ *- value:/ { print k "=" $3 }' \
  "$ROOT/deploy/temporal/dynamicconfig.yaml")

case "${1:-}" in
  install) install ;;
  path) install; echo "$BIN" ;;
  start)
    install
    db=${2:?usage: temporal.sh start DBFILE [PORT] [UIPORT]}
    port=${3:-7233}; ui=${4:-8233}
    args=(server start-dev --ip 127.0.0.1 --ui-ip 127.0.0.1 --port "$port" --ui-port "$ui"
          --db-filename "$db" --log-level warn)
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
    for dc in "${DYNAMIC_CONFIG[@]}"; do args+=(--dynamic-config-value "$dc"); done
    exec "$BIN" "${args[@]}"
    ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
