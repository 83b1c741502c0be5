#!/usr/bin/env bash
# make demo — the whole system on 127.0.0.1 under one supervisor, then the seed's
# quickstart replayed against it.
#
#   make demo                 # build, install what is missing, start, replay, stay up
#   DEMO_EXIT=1 make demo     # ... then stop; exit 0 only if the object reached
#                             # COMPLETED on the source and REPLICA on the target, and
#                             # its delete marker then reached the target
#
# Processes (start order; stopped in reverse), each in its own process group (setsid),
# each logging to .demo/logs/NAME.log, each with a readiness check:
#   zookeeper  :2181  scripts/zookeeper.sh            ruok → imok
#   kafka      :9092  bin/devbroker                   TCP port accepts
#   temporal   :7233  scripts/temporal.sh (UI :8233)  /api/v1/namespaces lists namespaces
#                     or, DEMO_TEMPORAL=postgres, scripts/temporal-postgres.sh (the server
#                     on PostgreSQL :5433, 4 history shards, Web UI server :8233)
#   s3server   :8000  bin/s3server                    answers HTTP
#   ingest     :9101  bin/ingest                      /healthz 200
#   bridge     :9102  bin/bridge                      /healthz 200
#   worker     :9103  bin/worker                      /healthz 200
# When every process is ready it writes .demo/env (source it: AWS CLI profile
# `backbeatuser`, BACKBEAT_* endpoints), replays the quickstart's set-up of
# source-bucket -> target-bucket, writes .demo/ready (every process up, buckets set up),
# then puts the quickstart's object and polls its status on both buckets, then deletes
# it and polls the target until the delete marker is there (setup replicates them).
# Ctrl-C or SIGTERM stops everything (SIGTERM to each group, SIGKILL after
# DEMO_STOP_TIMEOUT). If a process dies the supervisor names it, shows the end of its
# log, stops the rest and exits 1. A port already taken is reported with its holder.
#
# Knobs: DEMO_EXIT=1; DEMO_TEMPORAL=dev (default: the Temporal dev server, SQLite) or
# postgres (the production-shaped server on PostgreSQL, as docker-compose.yml runs it);
# DEMO_KEEP=1 keeps the data of the previous run (default: fresh state each run); DEMO_TIMEOUT (replication deadline of the replay, default 60 s);
# DEMO_READY_TIMEOUT (per process, default 60 s); DEMO_STOP_TIMEOUT (default 15 s);
# DEMO_AWS (default /usr/bin/aws, Debian's awscli); DEMO_PROMETHEUS=1 also starts
# Debian's Prometheus on 127.0.0.1:9090 (installed with apt-get when missing), scraping
# ingest, bridge and worker with deploy/prometheus/prometheus.yml's jobs. BACKBEAT_*
# variables of the calling shell are ignored: the demo passes every address as a flag.
# With DEMO_TEMPORAL=postgres Temporal's readiness deadline is at least 180 s (initdb
# and schemas the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEMO=$ROOT/.demo
LOGS=$DEMO/logs
AWS=${DEMO_AWS:-/usr/bin/aws}
READY_TIMEOUT=${DEMO_READY_TIMEOUT:-60}
STOP_TIMEOUT=${DEMO_STOP_TIMEOUT:-15}
REPLAY_TIMEOUT=${DEMO_TIMEOUT:-60}
UI=http://127.0.0.1:8233
UI_LINK=$UI/namespaces/default/workflows
S3=http://127.0.0.1:8000
export AWS_PAGER=
TEMPORAL_KIND=${DEMO_TEMPORAL:-dev}

# One name per process, in start order, with its ports (the first is its readiness port).
SERVICES=(zookeeper kafka temporal s3server ingest bridge worker)
declare -A PORTS=([zookeeper]="2181" [kafka]="9092" [temporal]="7233 8233" [s3server]="8000"
  [ingest]="9101" [bridge]="9102" [worker]="9103")
# Ports checked before the start but not printed: the server on PostgreSQL's own
# (scripts/temporal-postgres.sh's defaults: services, HTTP API, membership, metrics).
HIDDEN_PORTS=()
case $TEMPORAL_KIND in
  dev) ;;
  postgres)
    PORTS[temporal]="7233 8233 5433"
    HIDDEN_PORTS=(7234 7235 7239 7243 6933 6934 6935 6939 9233)
    ;;
  *) printf 'demo: DEMO_TEMPORAL=%s: want dev (default) or postgres\n' "$TEMPORAL_KIND" >&2; exit 2 ;;
esac
# DEMO_PROMETHEUS=1: Debian's Prometheus too, scraping ingest, bridge and worker.
if [ "${DEMO_PROMETHEUS:-}" = 1 ]; then
  SERVICES+=(prometheus)
  PORTS[prometheus]=9090
fi

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# The demo passes every setting as a flag; a BACKBEAT_* variable left in the caller's
# shell (e.g. after `. .demo/env`) must not reach a command that reads another meaning
# into it (BACKBEAT_LISTEN is s3server's and devbroker's).
while read -r v; do unset "$v"; done < <(compgen -e | grep '^BACKBEAT_' || true)

# --- build and dependencies ---------------------------------------------------------------
if [ -z "${MAKELEVEL:-}" ]; then make -s build; fi # `make demo` has just built
for b in s3server devbroker ingest bridge worker; do
  [ -x "bin/$b" ] || die "bin/$b missing: run make build"
done
scripts/deps.sh
if [ "${DEMO_PROMETHEUS:-}" = 1 ] && [ ! -x /usr/bin/prometheus ]; then
  say "installing Debian's prometheus with apt-get"
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  }
fi
scripts/temporal.sh install # the first time: go install, 2-5 min and ~2 GB of RAM
if [ "$TEMPORAL_KIND" = postgres ]; then
  scripts/temporal-postgres.sh install # the first time: the server's go install, 3-10 min
fi
[ -x "$AWS" ] || die "$AWS not found: Debian package awscli (scripts/deps.sh installs it)"
STARTER=
[ -x bin/starter ] && STARTER=$ROOT/bin/starter

# --- ports --------------------------------------------------------------------------------
# holder PORT: the process listening on PORT (empty when free).
holder() {
  local line
  if command -v ss >/dev/null 2>&1; then
    line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -1)
    [ -n "$line" ] || return 0
    if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
      echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]}): $(tr '\0' ' ' </proc/"${BASH_REMATCH[2]}"/cmdline 2>/dev/null | cut -c1-120)"
    else
      echo "a process this user cannot see"
    fi
  elif (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "unknown process (install iproute2 for its name)"
  fi
}
taken=0
for s in "${SERVICES[@]}"; do
  for p in ${PORTS[$s]}; do
    h=$(holder "$p")
    if [ -n "$h" ]; then
      printf 'demo: port %s (%s) is taken by %s\n' "$p" "$s" "$h" >&2
      taken=1
    fi
  done
done
for p in "${HIDDEN_PORTS[@]}"; do
  h=$(holder "$p")
  if [ -n "$h" ]; then
    printf 'demo: port %s (temporal, an internal port) is taken by %s\n' "$p" "$h" >&2
    taken=1
  fi
done
[ "$taken" = 0 ] || die "stop those processes (another make demo?) and run again"

# --- state --------------------------------------------------------------------------------
mkdir -p "$DEMO"
rm -f "$DEMO/ready" "$DEMO/env"
if [ "${DEMO_KEEP:-}" != 1 ]; then
  rm -rf "$DEMO/zookeeper" "$DEMO/kafka" "$DEMO/s3data" "$DEMO/prometheus" "$DEMO"/temporal.db* "$DEMO/temporal-pg" "$LOGS" "$DEMO/aws" "$DEMO/accounts.json"
fi
mkdir -p "$LOGS" "$DEMO/aws"
key() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }
secret() { head -c 30 /dev/urandom | base64 | tr -d '/+=\n'; }
if [ ! -f "$DEMO/accounts.json" ]; then
  UAK=AK$(key 9) USK=$(secret) RAK=AK$(key 9) RSK=$(secret)
  umask 077
  cat >"$DEMO/accounts.json" <<EOF
{"accounts":[
  {"name":"backbeatuser","accessKey":"$UAK","secretKey":"$USK"},
  {"name":"replication","accessKey":"$RAK","secretKey":"$RSK","replication":true}
]}
EOF
  cat >"$DEMO/aws/credentials" <<EOF
[backbeatuser]
aws_access_key_id = $UAK
aws_secret_access_key = $USK

[replication]
aws_access_key_id = $RAK
aws_secret_access_key = $RSK
EOF
  # endpoint_url: honoured by AWS CLI >= 2.13 and the Go SDK; Debian 12's awscli 2.9
  # ignores it (hence --endpoint-url / bbaws in .demo/env).
  cat >"$DEMO/aws/config" <<EOF
[profile backbeatuser]
region = us-east-1
endpoint_url = $S3

[profile replication]
region = us-east-1
endpoint_url = $S3
EOF
  umask 022
fi
# The replication identity (ingest and worker), read back so DEMO_KEEP=1 reuses it.
RAK=$(sed -n '/^\[replication\]/,/^\[/s/^aws_access_key_id = //p' "$DEMO/aws/credentials")
RSK=$(sed -n '/^\[replication\]/,/^\[/s/^aws_secret_access_key = //p' "$DEMO/aws/credentials")

# --- supervisor ---------------------------------------------------------------------------
PIDS=() NAMES=()
declare -A NAME_OF=()
REPLAY_PID=
STOP=

# start NAME CMD...: runs CMD in a new session (its own process group, no terminal: a
# Ctrl-C reaches only the supervisor, which stops the processes in order).
start() {
  local name=$1
  shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  PIDS+=($!) NAMES+=("$name")
  NAME_OF[$!]=$name
}

logtail() {
  tail -n "${2:-15}" "$LOGS/$1.log" 2>/dev/null | sed "s/^/  $1| /" >&2 || true
}

# stop_all: SIGTERM to each process group in reverse start order; SIGKILL after
# STOP_TIMEOUT. Idempotent.
stop_all() {
  trap '' INT TERM HUP
  if [ -n "$REPLAY_PID" ]; then kill "$REPLAY_PID" 2>/dev/null || true; fi
  local i pid name deadline
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]} name=${NAMES[i]}
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      deadline=$((SECONDS + STOP_TIMEOUT))
      while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        say "$name did not stop in ${STOP_TIMEOUT}s: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true # stragglers of the group
  done
  wait 2>/dev/null || true
  rm -f "$DEMO/ready"
  PIDS=() NAMES=()
}

# Until the supervision loop runs, a signal stops everything at once.
trap 'echo; say "interrupted: stopping"; stop_all; exit 130' INT TERM HUP
trap 'stop_all' EXIT

# Readiness checks (0 when ready).
fourlw() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null || true; }
ready_zookeeper() { [ "$(fourlw 2181 ruok)" = imok ]; }
ready_kafka() { (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; }
ready_temporal() { curl -fsS -m 2 "$UI/api/v1/namespaces" 2>/dev/null | grep -q '"namespaceInfo"'; }
ready_s3server() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$S3/" 2>/dev/null)" != 000 ]; }
ready_health() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null; }
ready_ingest() { ready_health 9101; }
ready_bridge() { ready_health 9102; }
ready_worker() { ready_health 9103; }
ready_prometheus() { curl -fsS -m 2 -o /dev/null http://127.0.0.1:9090/-/ready 2>/dev/null; }

# await NAME [SECONDS]: polls NAME's readiness check; fails when the process exits or
# after SECONDS (default READY_TIMEOUT).
await() {
  local name=$1 pid=${PIDS[${#PIDS[@]} - 1]} t0=$SECONDS limit=${2:-$READY_TIMEOUT}
  until "ready_$name"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" && rc=0 || rc=$?
      printf 'demo: %s (pid %s) exited with status %s before it was ready; end of .demo/logs/%s.log:\n' "$name" "$pid" "$rc" "$name" >&2
      logtail "$name" 25
      exit 1
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      printf 'demo: %s not ready after %ss; end of .demo/logs/%s.log:\n' "$name" "$limit" "$name" >&2
      logtail "$name" 25
      exit 1
    fi
    sleep 0.1
  done
  printf 'demo: %-9s ready  127.0.0.1:%-10s pid %-7s log .demo/logs/%s.log\n' "$name" "${PORTS[$name]// /,}" "$pid" "$name"
}

T0=$SECONDS
say "starting the stack on 127.0.0.1 (Temporal: $TEMPORAL_KIND; state in .demo/, logs in .demo/logs/)"
start zookeeper scripts/zookeeper.sh start "$DEMO/zookeeper" 2181
await zookeeper
start kafka bin/devbroker --listen 127.0.0.1:9092 --data-dir "$DEMO/kafka" \
  --seed-topics backbeat-replication:8
await kafka
if [ "$TEMPORAL_KIND" = postgres ]; then
  start temporal scripts/temporal-postgres.sh start "$DEMO/temporal-pg" 7233 8233
  await temporal $((READY_TIMEOUT > 180 ? READY_TIMEOUT : 180))
else
  start temporal scripts/temporal.sh start "$DEMO/temporal.db" 7233 8233
  await temporal
fi
start s3server bin/s3server --listen 127.0.0.1:8000 --data-dir "$DEMO/s3data" \
  --accounts "$DEMO/accounts.json"
await s3server
# The replication identity's keys go in the environment, not on the command line.
start ingest env BACKBEAT_ACCESS_KEY="$RAK" BACKBEAT_SECRET_KEY="$RSK" bin/ingest \
  --s3-endpoint "$S3" --kafka-brokers 127.0.0.1:9092 --zookeeper 127.0.0.1:2181 \
  --topic backbeat-replication --metrics-listen 127.0.0.1:9101
await ingest
start bridge bin/bridge --kafka-brokers 127.0.0.1:9092 --temporal-address 127.0.0.1:7233 \
  --topic backbeat-replication --task-queue backbeat-replication --metrics-listen 127.0.0.1:9102
await bridge
start worker env BACKBEAT_ACCESS_KEY="$RAK" BACKBEAT_SECRET_KEY="$RSK" bin/worker \
  --temporal-address 127.0.0.1:7233 --task-queue backbeat-replication --s3-endpoint "$S3" \
  --metrics-listen 127.0.0.1:9103
await worker
if [ "${DEMO_PROMETHEUS:-}" = 1 ]; then
  # The scrape configuration of docker-compose.yml, with the demo's addresses.
  sed -E 's/"(ingest|bridge|worker):([0-9]+)"/"127.0.0.1:\2"/' deploy/prometheus/prometheus.yml >"$DEMO/prometheus.yml"
  start prometheus /usr/bin/prometheus --config.file "$DEMO/prometheus.yml" \
    --storage.tsdb.path "$DEMO/prometheus" --web.listen-address 127.0.0.1:9090
  await prometheus
fi

cat >"$DEMO/env" <<EOF
# Written by scripts/demo.sh while \`make demo\` runs. Use it:  . .demo/env
export AWS_CONFIG_FILE=$DEMO/aws/config
export AWS_SHARED_CREDENTIALS_FILE=$DEMO/aws/credentials
export AWS_PROFILE=backbeatuser
export AWS_PAGER=
export BACKBEAT_S3_ENDPOINT=$S3
# starter's --source-endpoint (every flag --foo-bar reads BACKBEAT_FOO_BAR).
export BACKBEAT_SOURCE_ENDPOINT=$S3
export BACKBEAT_KAFKA_BROKERS=127.0.0.1:9092
export BACKBEAT_ZOOKEEPER=127.0.0.1:2181
export BACKBEAT_TEMPORAL_ADDRESS=127.0.0.1:7233
export BACKBEAT_TEMPORAL_UI=$UI
# starter's profiles: the buckets' owner, and s3server's replication identity (failed,
# backfill, status with reasons).
export BACKBEAT_SOURCE_PROFILE=backbeatuser
export BACKBEAT_REPLICATION_PROFILE=replication
export PATH=$ROOT/bin:\$PATH
# Debian 12's AWS CLI (2.9) ignores endpoint_url in the config file: pass
#   --endpoint-url \$BACKBEAT_S3_ENDPOINT --profile backbeatuser
# or use bbaws, which does (bbaws s3api head-object --bucket source-bucket --key K).
bbaws() { $AWS --endpoint-url "\$BACKBEAT_S3_ENDPOINT" --profile backbeatuser "\$@"; }
EOF
say "all processes ready in $((SECONDS - T0))s; wrote .demo/env"

# --- the seed's quickstart ----------------------------------------------------------------
# run CMD...: prints the command as the user would type it, then runs it.
run() {
  local a out=()
  for a in "$@"; do
    a=${a/#$ROOT\//}
    [ "$a" = "$AWS" ] && a=aws
    [[ $a =~ [[:space:]\'\"{}] ]] && a="'$a'"
    out+=("$a")
  done
  printf '  $ %s\n' "${out[*]}" >&2
  "$@"
}

# status BUCKET VERSION: the version's ReplicationStatus as s3server answers HEAD, or
# "absent" when the bucket has no such version yet.
status() {
  local s
  if s=$("$AWS" --endpoint-url "$S3" --profile backbeatuser s3api head-object --bucket "$1" \
    --key object-to-replicate --version-id "$2" --query ReplicationStatus --output text 2>/dev/null); then
    [ "$s" = None ] && s="(none)"
    echo "$s"
  else
    echo absent
  fi
}

replay() {
  set -euo pipefail
  . "$DEMO/env"
  local aws=("$AWS" --endpoint-url "$S3" --profile backbeatuser)
  echo
  say "replaying the quickstart (docs: README.md, 'Quickstart')"
  say "1. set up replication source-bucket -> target-bucket"
  if [ -n "$STARTER" ]; then
    run "$STARTER" setup --source-bucket source-bucket --target-bucket target-bucket \
      --source-profile backbeatuser --target-profile backbeatuser \
      --source-endpoint "$S3" --target-endpoint "$S3"
  else
    local b
    for b in source-bucket target-bucket; do
      "${aws[@]}" s3api head-bucket --bucket "$b" 2>/dev/null ||
        run "${aws[@]}" s3api create-bucket --bucket "$b" >/dev/null
      run "${aws[@]}" s3api put-bucket-versioning --bucket "$b" --versioning-configuration Status=Enabled
    done
    run "${aws[@]}" s3api put-bucket-replication --bucket source-bucket --replication-configuration \
      '{"Role":"arn:aws:iam::000000000000:role/backbeat","Rules":[{"ID":"demo","Status":"Enabled","Prefix":"","Destination":{"Bucket":"arn:aws:s3:::target-bucket"}}]}'
  fi
  # .demo/ready: every process is up and the buckets are set up (a script that waits
  # for it can put objects on source-bucket at once).
  touch "$DEMO/ready"
  say "   wrote .demo/ready"
  say "2. put an object on source-bucket"
  echo 'content to be replicated' >"$DEMO/replication_contents"
  local vid
  vid=$(run "${aws[@]}" s3api put-object --bucket source-bucket --key object-to-replicate \
    --body "$DEMO/replication_contents" --query VersionId --output text)
  say "   versionId $vid"
  say "3. head-object on source-bucket and target-bucket until COMPLETED / REPLICA (deadline ${REPLAY_TIMEOUT}s)"
  local t0=$SECONDS src dst last=
  while :; do
    src=$(status source-bucket "$vid")
    dst=$(status target-bucket "$vid")
    if [ "$src $dst" != "$last" ]; then
      printf 'demo:    %5.1fs  source-bucket: %-10s target-bucket: %s\n' "$((SECONDS - t0))" "$src" "$dst"
      last="$src $dst"
    fi
    if [ "$src" = COMPLETED ] && [ "$dst" = REPLICA ] || [ "$src" = FAILED ]; then break; fi
    if [ $((SECONDS - t0)) -ge "$REPLAY_TIMEOUT" ]; then break; fi
    sleep 0.2
  done
  run "${aws[@]}" s3api head-object --bucket source-bucket --key object-to-replicate --version-id "$vid" \
    --query '{VersionId:VersionId,ETag:ETag,ReplicationStatus:ReplicationStatus}' || true
  run "${aws[@]}" s3api head-object --bucket target-bucket --key object-to-replicate --version-id "$vid" \
    --query '{VersionId:VersionId,ETag:ETag,ReplicationStatus:ReplicationStatus}' || true
  local dm= dmt=absent
  if [ "$src" = COMPLETED ] && [ "$dst" = REPLICA ]; then
    # Backbeat replicates deletes: a delete makes a delete marker on source-bucket, and
    # the marker reaches target-bucket with the same version ID.
    say "4. delete the object on source-bucket (a delete marker) and wait for it on target-bucket"
    dm=$(run "${aws[@]}" s3api delete-object --bucket source-bucket --key object-to-replicate \
      --query VersionId --output text)
    say "   delete marker $dm"
    t0=$SECONDS
    while :; do
      dmt=$("${aws[@]}" s3api list-object-versions --bucket target-bucket --prefix object-to-replicate \
        --query "DeleteMarkers[?VersionId=='$dm'].VersionId" --output text 2>/dev/null || true)
      if [ "$dmt" = "$dm" ]; then
        printf 'demo:    %5.1fs  target-bucket: delete marker %s\n' "$((SECONDS - t0))" "$dm"
        break
      fi
      dmt=absent
      if [ $((SECONDS - t0)) -ge "$REPLAY_TIMEOUT" ]; then break; fi
      sleep 0.2
    done
    run "${aws[@]}" s3api list-object-versions --bucket target-bucket --prefix object-to-replicate \
      --query '{Versions:Versions[].[VersionId,IsLatest],DeleteMarkers:DeleteMarkers[].[VersionId,IsLatest]}' || true
  fi
  if [ -n "$STARTER" ]; then
    run "$STARTER" status --bucket source-bucket --key object-to-replicate \
      --source-profile backbeatuser --replication-profile replication || true
    run "$STARTER" partitions || true
  fi
  echo
  say "Web UI (partition workflows): $UI_LINK"
  if [ "$src" = COMPLETED ] && [ "$dst" = REPLICA ] && [ "$dmt" = "$dm" ]; then
    say "RESULT: object-to-replicate is COMPLETED on source-bucket and REPLICA on target-bucket, and its delete marker $dm is on target-bucket (read from s3server)"
    return 0
  fi
  say "RESULT: source-bucket: $src, target-bucket: $dst, delete marker on target-bucket: $dmt after ${REPLAY_TIMEOUT}s — see .demo/logs/ and README 'Troubleshooting'" >&2
  return 1
}

replay &
REPLAY_PID=$!

# --- supervision loop ---------------------------------------------------------------------
trap 'STOP=SIGINT' INT
trap 'STOP=SIGTERM' TERM
trap 'STOP=SIGHUP' HUP
code=0
while :; do
  died=
  if wait -n -p died "${PIDS[@]}" ${REPLAY_PID:+"$REPLAY_PID"}; then rc=0; else rc=$?; fi
  if [ -n "$STOP" ]; then
    echo
    say "$STOP: stopping"
    # DEMO_EXIT=1 interrupted before the replay's verdict: not a success.
    if [ "${DEMO_EXIT:-}" = 1 ] && [ -n "$REPLAY_PID" ]; then code=130; fi
    break
  fi
  [ -n "$died" ] || continue
  if [ "$died" = "$REPLAY_PID" ]; then
    REPLAY_PID=
    if [ "${DEMO_EXIT:-}" = 1 ]; then
      code=$rc
      say "DEMO_EXIT=1: stopping (exit $code)"
      break
    fi
    cat <<EOF

demo: the stack keeps running; Ctrl-C stops it. In another shell:
        . .demo/env
        $AWS s3api put-object --endpoint-url \$BACKBEAT_S3_ENDPOINT --profile backbeatuser \\
            --bucket source-bucket --key hello --body README.md
        $AWS s3api head-object --endpoint-url \$BACKBEAT_S3_ENDPOINT --profile backbeatuser \\
            --bucket target-bucket --key hello
        starter status --bucket source-bucket --key hello
        starter partitions
      Web UI: $UI_LINK   metrics: http://127.0.0.1:910{1,2,3}/metrics
EOF
    if [ "${DEMO_PROMETHEUS:-}" = 1 ]; then
      echo "      Prometheus: http://127.0.0.1:9090/graph (the dashboard's queries: deploy/grafana/dashboards/backbeat.json)"
    fi
    continue
  fi
  how="exited with status $rc"
  [ "$rc" -le 128 ] || how="was killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
  printf 'demo: %s (pid %s) %s: stopping the others; end of .demo/logs/%s.log:\n' \
    "${NAME_OF[$died]}" "$died" "$how" "${NAME_OF[$died]}" >&2
  logtail "${NAME_OF[$died]}" 25
  code=1
  break
done
stop_all
trap - EXIT
say "stopped"
exit "$code"
