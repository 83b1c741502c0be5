#!/usr/bin/env bash
# A production-shaped Temporal on 127.0.0.1, without Docker: the Temporal server (the
# version of docker-compose.yml's temporalio/auto-setup image) on a private PostgreSQL
# cluster, several history shards, the Web UI (temporalio/ui-server) pointed at it.
#
#   scripts/temporal-postgres.sh install     # installs what is missing (idempotent)
#   scripts/temporal-postgres.sh path        # prints the server binary's path (installs)
#   scripts/temporal-postgres.sh start DATA_DIR [PORT] [UIPORT]
#       # everything, supervised: PostgreSQL, schemas, server (frontend on PORT, default
#       # 7233), namespace `default` and search attributes, Web UI on UIPORT (default
#       # 8233; 0: none). Runs until SIGTERM/SIGINT (stops all) or until one of its
#       # processes exits (stops the others, exit 1). For make demo.
#   scripts/temporal-postgres.sh postgres DATA_DIR     # initdb when new, then exec postgres
#   scripts/temporal-postgres.sh server DATA_DIR [PORT] # wait for PostgreSQL, set up or
#       # update the schemas, then exec the server (frontend, history, matching and
#       # worker services in one process)
#   scripts/temporal-postgres.sh register [PORT]       # namespace default + search attributes
#   scripts/temporal-postgres.sh ui DATA_DIR [PORT] [UIPORT]  # exec the Web UI server
# `postgres`, `server` and `ui` exec their process (a supervisor's SIGTERM or SIGKILL
# reaches it); internal/devstack starts them one by one, as tests kill -9 each.
#
# Data in DATA_DIR: pg/ (the PostgreSQL cluster; WAL and fsync as PostgreSQL's defaults,
# so it survives kill -9 of either process), config/ (the generated server config,
# rewritten at each start), ui/ (the Web UI's config). Settings (environment):
#   TEMPORAL_PG_PORT         PostgreSQL's port (default 5433: a system cluster has 5432)
#   TEMPORAL_SHARDS          history shards (default 4, as compose's NUM_HISTORY_SHARDS);
#                            fixed when the database is created (a change needs a new DATA_DIR)
#   TEMPORAL_HISTORY_PORT, TEMPORAL_MATCHING_PORT, TEMPORAL_WORKER_PORT  gRPC ports of the
#                            other services (default PORT+1, PORT+2, PORT+6)
#   TEMPORAL_HTTP_PORT       frontend HTTP API (default PORT+10)
#   TEMPORAL_MEMBERSHIP_PORTS  four ports, frontend history matching worker (default
#                            6933 6934 6935 6939; each below 32768: stored as a smallint)
#   TEMPORAL_METRICS_PORT    Prometheus metrics (default PORT+2000; not 8000, s3server's)
#   TEMPORAL_LOG_LEVEL       server log level (default warn)
#   TEMPORAL_PG_WAIT         seconds `server` and `start` wait for PostgreSQL (default 60)
#   TEMPORAL_REGISTER_WAIT   seconds `register` retries (default 60)
# TLS of the frontend (default off: plain text; Temporal's internode TLS stays off):
#   TEMPORAL_FRONTEND_TLS_CERT, TEMPORAL_FRONTEND_TLS_KEY  PEM certificate and key of the
#                            frontend; setting them turns TLS on. The certificate must be
#                            valid for 127.0.0.1 (or TEMPORAL_FRONTEND_TLS_SERVER_NAME) and,
#                            with a client CA, for client authentication too: the server's
#                            own system worker, `register` and the Web UI present it
#   TEMPORAL_FRONTEND_TLS_CA  PEM bundle of the CA that signed the certificate, which the
#                            server's system worker, `register` and the Web UI trust
#                            (required with TLS)
#   TEMPORAL_FRONTEND_TLS_CLIENT_CA  PEM bundle of the CAs of client certificates: turns
#                            mutual TLS on (requireClientAuth); TEMPORAL_FRONTEND_TLS_CA is
#                            trusted for client certificates too, as the frontend's own
#                            certificate is one (default: TLS only)
#   TEMPORAL_FRONTEND_TLS_SERVER_NAME  name those clients check in the certificate
#                            (default 127.0.0.1, the address they dial)
#
# Installs (into .tools/, with version stamps): Debian's postgresql via scripts/deps.sh
# when initdb is missing; `go install go.temporal.io/server/cmd/server@$VERSION` and the
# schema tool (cmd/tools/sql) as .tools/bin/temporal-server and temporal-sql-tool; the
# schema files from that module (`go mod download`); the Web UI server, built from the
# github.com/temporalio/ui-server/v2 module's source (its go.mod has replace directives,
# so `go install` refuses it). The namespace and search attributes are registered with
# the Temporal CLI of scripts/temporal.sh. As root, PostgreSQL runs as the `postgres`
# user (initdb refuses root): DATA_DIR's parents must be searchable by it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=v1.29.1  # the server; docker-compose.yml: temporalio/auto-setup:1.29.1
UI_VERSION=v2.34.0 # docker-compose.yml: temporalio/ui:2.34.0
TOOLS=$ROOT/.tools
BIN=$TOOLS/bin/temporal-server
SQL=$TOOLS/bin/temporal-sql-tool
UIBIN=$TOOLS/bin/temporal-ui-server
STAMP=$TOOLS/bin/temporal-server.version
UI_STAMP=$TOOLS/bin/temporal-ui-server.version
SCHEMA=$TOOLS/temporal-schema/$VERSION
SHARDS=${TEMPORAL_SHARDS:-4}
PG_PORT=${TEMPORAL_PG_PORT:-5433}
DB_USER=temporal
# SEARCH_ATTRIBUTES: the partition workflows' search attributes (one list for both scripts).
. "$ROOT/scripts/search-attributes.sh"

say() { echo "temporal-postgres: $*" >&2; }
die() { say "$*"; exit 1; }

gocmd() { command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || die "the go command is not in PATH"; }

pgbin() {
  local d
  d=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
  echo "$d"
}

install() {
  pgbin >/dev/null || "$ROOT/scripts/deps.sh" postgresql
  pgbin >/dev/null || die "initdb not found under /usr/lib/postgresql/*/bin after installing postgresql"
  local go
  go=$(gocmd)
  mkdir -p "$TOOLS/bin"
  if ! [ -x "$BIN" ] || ! [ -x "$SQL" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$VERSION" ]; then
    say "installing the Temporal server and schema tool $VERSION into .tools/bin (a few minutes and ~2 GB of RAM the first time)"
    local stage
    stage=$(mktemp -d "$TOOLS/stage.XXXXXX")
    GOBIN=$stage GOFLAGS=-mod=mod "$go" install "go.temporal.io/server/cmd/server@$VERSION" \
      "go.temporal.io/server/cmd/tools/sql@$VERSION" >&2
    mv -f "$stage/server" "$BIN"
    mv -f "$stage/sql" "$SQL"
    rmdir "$stage"
    echo "$VERSION" >"$STAMP"
  fi
  if ! [ -d "$SCHEMA/postgresql" ]; then
    local dir
    dir=$(GOFLAGS=-mod=mod "$go" mod download -json "go.temporal.io/server@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir/schema/postgresql/v12" ] || die "no schema/postgresql/v12 in go.temporal.io/server@$VERSION ($dir)"
    mkdir -p "$SCHEMA"
    # Copied aside, then renamed into place: two installs at once (test packages run in
    # parallel) do not nest one copy in the other.
    local tmp
    tmp=$(mktemp -d "$TOOLS/stage.XXXXXX")
    cp -r "$dir/schema/postgresql" "$tmp/"
    chmod -R u+w "$tmp"
    mv -T "$tmp/postgresql" "$SCHEMA/postgresql" 2>/dev/null || [ -d "$SCHEMA/postgresql" ]
    rm -rf "$tmp"
  fi
  if ! [ -x "$UIBIN" ] || [ "$(cat "$UI_STAMP" 2>/dev/null)" != "$UI_VERSION" ]; then
    say "building the Temporal Web UI server $UI_VERSION into .tools/bin"
    local dir src
    dir=$(GOFLAGS=-mod=mod "$go" mod download -json "github.com/temporalio/ui-server/v2@$UI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir/cmd/server" ] || die "no cmd/server in github.com/temporalio/ui-server/v2@$UI_VERSION ($dir)"
    src=$(mktemp -d "$TOOLS/stage.XXXXXX")
    cp -r "$dir/." "$src"
    chmod -R u+w "$src"
    (cd "$src" && GOFLAGS=-mod=mod "$go" build -o "$UIBIN" ./cmd/server) >&2
    rm -rf "$src"
    echo "$UI_VERSION" >"$UI_STAMP"
  fi
  "$ROOT/scripts/temporal.sh" install # the CLI: `register`
}

# as_pg CMD...: runs CMD as the user that owns the cluster (postgres when we are root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

# pg_dir DATA_DIR: the cluster's directory, made (and owned by its user) when missing.
pg_dir() {
  local dir=$1/pg
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" && chmod 700 "$dir"
  as_pg test -w "$dir" || die "$dir is not writable by $( [ "$(id -u)" = 0 ] && echo postgres || id -un): are its parent directories searchable (chmod o+x)?"
  echo "$dir"
}

cmd_postgres() {
  local data=${1:?usage: temporal-postgres.sh postgres DATA_DIR}
  local bin dir
  bin=$(pgbin) || die "PostgreSQL not installed: run scripts/temporal-postgres.sh install"
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
  dir=$(pg_dir "$data")
  if ! [ -f "$dir/PG_VERSION" ]; then
    say "initdb in $dir (superuser $DB_USER, trust authentication on 127.0.0.1)"
    as_pg "$bin/initdb" -D "$dir" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  # A postmaster.pid left by kill -9 names a PID that may live again (a zombie not yet
  # reaped, another process after a reboot): PostgreSQL would refuse to start. Remove it
  # unless that PID is a postgres on this directory. (Its check of the shared memory
  # block still guards against backends that outlived their postmaster.)
  local pid shmid deadline=$((SECONDS + 15))
  if [ -f "$dir/postmaster.pid" ]; then
    pid=$(head -1 "$dir/postmaster.pid")
    # Backends of a killed postmaster take a moment to go: wait until none is attached
    # to its shared memory block (else PostgreSQL refuses to start).
    read -r _ shmid < <(sed -n 7p "$dir/postmaster.pid") || true
    while [ -n "${shmid:-}" ] && [ "$SECONDS" -lt "$deadline" ] &&
      ipcs -m 2>/dev/null | awk -v id="$shmid" '$2 == id && $6 > 0 { f = 1 } END { exit !f }'; do
      sleep 0.1
    done
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $dir "; then
      rm -f "$dir/postmaster.pid"
    fi
  fi
  # Unix sockets off (test data dirs are long paths): clients use 127.0.0.1:PG_PORT.
  # log_min_messages=log: start, recovery and crashes, not the statements Temporal
  # expects to fail (duplicate keys).
  exec_as_pg "$bin/postgres" -D "$dir" -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
    -c unix_socket_directories= -c max_connections=100 -c shared_buffers=64MB -c log_min_messages=log
}

# exec_as_pg CMD...: as_pg, replacing this shell (a supervisor's signal reaches CMD).
exec_as_pg() {
  if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; fi
  exec "$@"
}

pg_ready() { "$(pgbin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d postgres -t 2 2>/dev/null; }

wait_pg() {
  local deadline=$((SECONDS + ${1:-60}))
  until pg_ready; do
    [ "$SECONDS" -lt "$deadline" ] || die "PostgreSQL not ready on 127.0.0.1:$PG_PORT after ${1:-60}s"
    sleep 0.1
  done
}

sqltool() { "$SQL" --plugin postgres12 --ep 127.0.0.1 -p "$PG_PORT" -u "$DB_USER" --pw temporal "$@"; }

psql1() { "$(pgbin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$1" -tAc "$2"; }

# sqlstep WHAT ARGS...: runs the schema tool quietly; shows its output when it fails.
sqlstep() {
  local what=$1 out
  shift
  out=$(sqltool "$@" 2>&1) || { printf '%s\n' "$out" >&2; die "schema tool: $what failed"; }
}

# schema: creates the databases and sets up or updates their schemas. Idempotent, and
# each step is checked on its own: a start killed half-way finishes the job next time.
schema() {
  local db dir
  for db in temporal temporal_visibility; do
    dir=$SCHEMA/postgresql/v12/temporal/versioned
    [ "$db" = temporal ] || dir=$SCHEMA/postgresql/v12/visibility/versioned
    if [ "$(psql1 postgres "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      say "creating database $db"
      sqlstep "create-database $db" --db "$db" create-database
    fi
    if [ "$(psql1 "$db" "SELECT to_regclass('schema_version') IS NOT NULL")" != t ]; then
      sqlstep "setup-schema $db" --db "$db" setup-schema -v 0.0
    fi
    sqlstep "update-schema $db" --db "$db" update-schema -d "$dir"
    [ -n "$(psql1 "$db" "SELECT curr_version FROM schema_version")" ] ||
      die "database $db has no schema version after update-schema"
  done
}

# config DATA_DIR PORT: writes DATA_DIR/config/development.yaml and the dynamic config.
config() {
  local data=$1 port=$2
  local hist=${TEMPORAL_HISTORY_PORT:-$((port + 1))} match=${TEMPORAL_MATCHING_PORT:-$((port + 2))}
  local work=${TEMPORAL_WORKER_PORT:-$((port + 6))} http=${TEMPORAL_HTTP_PORT:-$((port + 10))}
  local metrics=${TEMPORAL_METRICS_PORT:-$((port + 2000))}
  local mem
  read -r -a mem <<<"${TEMPORAL_MEMBERSHIP_PORTS:-6933 6934 6935 6939}"
  [ ${#mem[@]} = 4 ] || die "TEMPORAL_MEMBERSHIP_PORTS needs four ports (frontend history matching worker)"
  local m
  for m in "${mem[@]}"; do
    [ "$m" -lt 32768 ] || die "membership port $m: the server stores it as a smallint, take one below 32768"
  done
  mkdir -p "$data/config"
  local store
  store() {
    cat <<EOF
      sql:
        pluginName: postgres12
        databaseName: $1
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: tcp
        user: $DB_USER
        password: temporal
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
EOF
  }
  cat >"$data/config/development.yaml" <<EOF
# Written by scripts/temporal-postgres.sh at each start (from the server module's
# config/development-postgres12.yaml): do not edit.
log:
  stdout: true
  level: ${TEMPORAL_LOG_LEVEL:-warn}
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: $SHARDS
  datastores:
    postgres-default:
$(store temporal 20)
    postgres-visibility:
$(store temporal_visibility 4)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
$(tls_config)
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:$metrics"
services:
  frontend:
    rpc: {grpcPort: $port, membershipPort: ${mem[0]}, bindOnLocalHost: true, httpPort: $http}
  history:
    rpc: {grpcPort: $hist, membershipPort: ${mem[1]}, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: $match, membershipPort: ${mem[2]}, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: $work, membershipPort: ${mem[3]}, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$port"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$data/config/dynamicconfig.yaml"
  pollInterval: 10s
EOF
  cat >"$data/config/dynamicconfig.yaml" <<EOF
# Written by scripts/temporal-postgres.sh. Search attributes registered by \`register\`
# are seen at once (else after the server's cache refresh).
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true

EOF
  # The project's dynamic config, one home for every Temporal it runs.
  cat "$ROOT/deploy/temporal/dynamicconfig.yaml" >>"$data/config/dynamicconfig.yaml"
}

# tls_on: whether the frontend serves TLS (TEMPORAL_FRONTEND_TLS_*); dies on a partial
# or unreadable setting.
tls_on() {
  local v f=""
  for v in TEMPORAL_FRONTEND_TLS_CERT TEMPORAL_FRONTEND_TLS_KEY TEMPORAL_FRONTEND_TLS_CA TEMPORAL_FRONTEND_TLS_CLIENT_CA TEMPORAL_FRONTEND_TLS_SERVER_NAME; do
    [ -z "${!v:-}" ] || f=1
  done
  [ -n "$f" ] || return 1
  for v in TEMPORAL_FRONTEND_TLS_CERT TEMPORAL_FRONTEND_TLS_KEY TEMPORAL_FRONTEND_TLS_CA; do
    [ -n "${!v:-}" ] || die "frontend TLS: $v is not set (TLS needs TEMPORAL_FRONTEND_TLS_CERT, _KEY and _CA)"
    [ -r "${!v}" ] || die "frontend TLS: $v=${!v} is not a readable file"
  done
  [ -z "${TEMPORAL_FRONTEND_TLS_CLIENT_CA:-}" ] || [ -r "$TEMPORAL_FRONTEND_TLS_CLIENT_CA" ] ||
    die "frontend TLS: TEMPORAL_FRONTEND_TLS_CLIENT_CA=$TEMPORAL_FRONTEND_TLS_CLIENT_CA is not a readable file"
}

# tls_config: the server config's global.tls (the frontend's TLS, the client setting of
# the server's system worker), nothing when TLS is off.
tls_config() {
  tls_on || return 0
  local mtls=false clientcas=""
  if [ -n "${TEMPORAL_FRONTEND_TLS_CLIENT_CA:-}" ]; then
    mtls=true
    clientcas="clientCaFiles: [\"$TEMPORAL_FRONTEND_TLS_CLIENT_CA\", \"$TEMPORAL_FRONTEND_TLS_CA\"]"
  fi
  cat <<EOF
  tls:
    frontend:
      server:
        certFile: "$TEMPORAL_FRONTEND_TLS_CERT"
        keyFile: "$TEMPORAL_FRONTEND_TLS_KEY"
        requireClientAuth: $mtls
        $clientcas
    systemWorker:
      certFile: "$TEMPORAL_FRONTEND_TLS_CERT"
      keyFile: "$TEMPORAL_FRONTEND_TLS_KEY"
      client:
        serverName: "${TEMPORAL_FRONTEND_TLS_SERVER_NAME:-127.0.0.1}"
        rootCaFiles: ["$TEMPORAL_FRONTEND_TLS_CA"]
EOF
}

# tls_client FORMAT CA SERVERNAME CERT KEY: the client TLS setting of the frontend's
# clients (`register`, the Web UI), each setting printed with printf FORMAT NAME VALUE
# under the name given (nothing when TLS is off): they trust TEMPORAL_FRONTEND_TLS_CA,
# check TEMPORAL_FRONTEND_TLS_SERVER_NAME (127.0.0.1) and, under mutual TLS, present the
# frontend's certificate.
tls_client() {
  local fmt=$1
  tls_on || return 0
  printf -- "$fmt" "$2" "$TEMPORAL_FRONTEND_TLS_CA" "$3" "${TEMPORAL_FRONTEND_TLS_SERVER_NAME:-127.0.0.1}"
  [ -z "${TEMPORAL_FRONTEND_TLS_CLIENT_CA:-}" ] ||
    printf -- "$fmt" "$4" "$TEMPORAL_FRONTEND_TLS_CERT" "$5" "$TEMPORAL_FRONTEND_TLS_KEY"
}

cmd_server() {
  local data=${1:?usage: temporal-postgres.sh server DATA_DIR [PORT]} port=${2:-7233}
  [ -x "$BIN" ] && [ -x "$SQL" ] && [ -d "$SCHEMA/postgresql" ] || die "not installed: run scripts/temporal-postgres.sh install"
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
  tls_on || true # a partial TLS setting dies here, before the schemas
  wait_pg "${TEMPORAL_PG_WAIT:-60}"
  schema
  config "$data" "$port"
  exec "$BIN" --root "$data" --config config --env development --allow-no-auth start
}

cli() {
  local tls
  mapfile -t tls < <(tls_client '--%s=%s\n' tls-ca-path tls-server-name tls-cert-path tls-key-path)
  "$TOOLS/bin/temporal" "$@" "${tls[@]}"
}

cmd_register() {
  local port=${1:-7233} addr sa list missing deadline=$((SECONDS + ${TEMPORAL_REGISTER_WAIT:-60}))
  addr=127.0.0.1:$port
  tls_on || true # a partial TLS setting dies here
  # Retried until the deadline: the server answers before its namespace cache and
  # search attribute store have caught up with a fresh database.
  while :; do
    missing=()
    if cli operator namespace describe --address "$addr" --namespace default >/dev/null 2>&1; then
      list=$(cli operator search-attribute list --address "$addr" --namespace default 2>/dev/null || true)
      for sa in "${SEARCH_ATTRIBUTES[@]}"; do
        grep -qw "${sa%%=*}" <<<"$list" && continue
        missing+=("${sa%%=*}")
        # Idempotent: a create that fails is retried (or found done) on the next round.
        cli operator search-attribute create --address "$addr" --namespace default --name "${sa%%=*}" \
          --type "${sa#*=}" >/dev/null 2>&1 || true
      done
      if [ ${#missing[@]} = 0 ]; then break; fi
    else
      missing=(namespace)
      cli operator namespace create --address "$addr" --namespace default --retention 72h >/dev/null 2>&1 || true
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "Temporal at $addr: not registered after ${TEMPORAL_REGISTER_WAIT:-60}s: ${missing[*]}"
    sleep 0.5
  done
  say "namespace default and its ${#SEARCH_ATTRIBUTES[@]} search attributes registered on $addr"
}

cmd_ui() {
  local data=${1:?usage: temporal-postgres.sh ui DATA_DIR [PORT] [UIPORT]} port=${2:-7233} ui=${3:-8233} dir
  [ -x "$UIBIN" ] || die "not installed: run scripts/temporal-postgres.sh install"
  tls_on || true # a partial TLS setting dies here
  dir=$data/ui
  mkdir -p "$dir/config"
  cat >"$dir/config/development.yaml" <<EOF
temporalGrpcAddress: 127.0.0.1:$port
host: 127.0.0.1
port: $ui
enableUi: true
defaultNamespace: default
refreshInterval: 1m
cors:
  allowOrigins: ["http://127.0.0.1:$ui"]
$(tls_on && echo "tls:" && echo "  enableHostVerification: true" &&
  tls_client '  %s: "%s"\n' caFile serverName certFile keyFile)
EOF
  exec "$UIBIN" --root "$dir" --config config --env development start
}

cmd_start() {
  local data=${1:?usage: temporal-postgres.sh start DATA_DIR [PORT] [UIPORT]} port=${2:-7233} ui=${3:-8233}
  install
  mkdir -p "$data"
  data=$(cd "$data" && pwd)
  local pids=() names=() self=$0
  run() {
    local name=$1
    shift
    "$@" &
    pids+=($!) names+=("$name")
  }
  stop() {
    trap '' INT TERM HUP
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
  }
  trap 'stop; exit 0' INT TERM HUP
  run postgres bash "$self" postgres "$data"
  wait_pg "${TEMPORAL_PG_WAIT:-60}"
  run server bash "$self" server "$data" "$port"
  cmd_register "$port"
  [ "$ui" = 0 ] || run ui bash "$self" ui "$data" "$port" "$ui"
  say "ready: frontend 127.0.0.1:$port, PostgreSQL 127.0.0.1:$PG_PORT, $SHARDS history shards$([ "$ui" = 0 ] || echo ", Web UI http://127.0.0.1:$ui")"
  local rc=0
  wait -n "${pids[@]}" || rc=$?
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2>/dev/null || say "${names[i]} (pid ${pids[i]}) exited (status $rc): stopping the others"
  done
  stop
  exit 1
}

case "${1:-}" in
  install) install ;;
  path) install; echo "$BIN" ;;
  start) shift; cmd_start "$@" ;;
  postgres) shift; cmd_postgres "$@" ;;
  server) shift; cmd_server "$@" ;;
  register) shift; cmd_register "$@" ;;
  ui) shift; cmd_ui "$@" ;;
  *) sed -n '2,/^# Installs/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
