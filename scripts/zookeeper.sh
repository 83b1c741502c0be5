#!/usr/bin/env bash
# Standalone ZooKeeper (Debian's zookeeper package) for the demo and CI, on 127.0.0.1.
#
#   scripts/zookeeper.sh start DATA_DIR [PORT]   # writes DATA_DIR/zoo.cfg, then execs java
#                                                # (PORT default 2181); a watcher prints
#                                                # "zookeeper: ready on 127.0.0.1:PORT" to
#                                                # stderr and touches DATA_DIR/ready once
#                                                # the server serves
#   scripts/zookeeper.sh wait [PORT] [SECONDS]   # waits until ZooKeeper on PORT serves
#                                                # (ruok → imok, srvr shows a mode);
#                                                # default 2181, 60 s; exit 1 on timeout
#   scripts/zookeeper.sh classpath CONFDIR       # prints the java classpath
#
# `start` execs java, so a supervisor that started it in the background stops it with
# SIGTERM on the PID it got. Data (snapshots, transaction logs under DATA_DIR/version-2)
# survives restarts and kill -9. Logs go to stderr.
#
# Keep in sync with internal/devstack/zookeeper.go (tests start ZooKeeper the same way):
# Debian's zookeeper.jar names every dependency in its manifest Class-Path, so the
# classpath is CONFDIR:JAR plus slf4j-simple.jar from the jar's directory when present
# (Debian ships no SLF4J binding: without one ZooKeeper logs nothing). Same zoo.cfg
# keys, same JVM options. BACKBEAT_ZOOKEEPER_JAR overrides the jar; JAVA_HOME, java.
set -euo pipefail

JAR=${BACKBEAT_ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}
MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
JVM_OPTS=(-Xms16m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData)

die() { echo "zookeeper: $*" >&2; exit 1; }

classpath() {
  local cp="$1:$JAR" binding
  binding="$(dirname "$JAR")/slf4j-simple.jar"
  [ -f "$binding" ] && cp="$cp:$binding"
  echo "$cp"
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return; fi
  command -v java || die "java not found: run scripts/deps.sh"
}

# fourlw PORT CMD: prints ZooKeeper's answer to a four-letter word (empty on failure).
fourlw() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null || true
}

serving() {
  [ "$(fourlw "$1" ruok)" = imok ] && [[ "$(fourlw "$1" srvr)" == *Mode:* ]]
}

# wait_ready PORT SECONDS [PID]: polls until ZooKeeper serves; gives up after SECONDS
# or, with PID, as soon as that process is gone.
wait_ready() {
  local port=$1 secs=$2 pid=${3:-} deadline=$((SECONDS + $2))
  until serving "$port"; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "zookeeper: not serving on 127.0.0.1:$port after ${secs}s" >&2; return 1; }
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || { echo "zookeeper: exited before it served" >&2; return 1; }
    sleep 0.05
  done
}

case "${1:-}" in
  start)
    dir=${2:?usage: zookeeper.sh start DATA_DIR [PORT]}
    port=${3:-2181}
    [ -f "$JAR" ] || die "$JAR not found: run scripts/deps.sh (Debian package zookeeper)"
    java=$(java_bin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -n "$(fourlw "$port" ruok)" ] || (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "something already listens on 127.0.0.1:$port"
    fi
    cat >"$dir/zoo.cfg" <<EOF
# written by scripts/zookeeper.sh
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
EOF
    rm -f "$dir/ready"
    # The readiness watcher is double-forked (reparented to init, not left a zombie of
    # java) and watches this PID, which java keeps across the exec below.
    ( (
      if wait_ready "$port" "${BACKBEAT_ZOOKEEPER_READY_TIMEOUT:-60}" $$; then
        touch "$dir/ready"
        echo "zookeeper: ready on 127.0.0.1:$port (data in $dir)" >&2
      fi
    ) & )
    exec "$java" "${JVM_OPTS[@]}" -cp "$(classpath "$dir")" "$MAIN" "$dir/zoo.cfg"
    ;;
  wait)
    wait_ready "${2:-2181}" "${3:-60}"
    ;;
  classpath)
    classpath "${2:?usage: zookeeper.sh classpath CONFDIR}"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
