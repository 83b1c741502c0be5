#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo use, when missing:
#   awscli     AWS CLI v2 (/usr/bin/aws), for the CLI acceptance tests
#   zookeeper  ZooKeeper 3.8 (/usr/share/java/zookeeper.jar), run by scripts/zookeeper.sh
#              and internal/devstack; it pulls a JRE
#   default-jre-headless  only if java still does not run (`java -version`)
#   kcat       Kafka command-line client, to look at the dev broker's topics
#   postgresql PostgreSQL (Debian 12: 15; initdb under /usr/lib/postgresql/*/bin), for
#              the Temporal server on PostgreSQL (scripts/temporal-postgres.sh)
#   rclone     rclone, the copy `make bench` compares the engine with
# Idempotent and quiet: nothing happens when everything is there; apt-get update runs
# only when an install fails. Needs root (or sudo) for apt-get.
#
#   scripts/deps.sh               # every package above
#   scripts/deps.sh postgresql    # only the named ones (awscli zookeeper kcat postgresql rclone)
set -euo pipefail

has() {
  case $1 in
    awscli) [ -x /usr/bin/aws ] ;;
    zookeeper) [ -f /usr/share/java/zookeeper.jar ] ;;
    kcat) command -v kcat >/dev/null 2>&1 ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    rclone) command -v rclone >/dev/null 2>&1 ;;
    *) echo "deps: unknown package $1 (awscli zookeeper kcat postgresql rclone)" >&2; exit 2 ;;
  esac
}
want=("$@")
[ $# -gt 0 ] || want=(awscli zookeeper kcat postgresql rclone)
need=()
for p in "${want[@]}"; do has "$p" || need+=("$p"); done

java_runs() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then "$JAVA_HOME/bin/java" -version >/dev/null 2>&1; return; fi
  command -v java >/dev/null 2>&1 && java -version >/dev/null 2>&1
}

SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
install() {
  echo "deps: installing $* with apt-get" >&2
  $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq "$@" >/dev/null
  }
}

[ ${#need[@]} = 0 ] || install "${need[@]}"
[[ " ${want[*]} " == *" zookeeper "* ]] || exit 0 # java is ZooKeeper's
java_runs || install default-jre-headless
java_runs || { echo "deps: java does not run after installing a JRE" >&2; exit 1; }
