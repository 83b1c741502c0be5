#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo use, when missing:
# awscli (AWS CLI v2, for the CLI acceptance tests). Needs root (or sudo) for apt-get.
set -euo pipefail
need=()
[ -x /usr/bin/aws ] || need+=(awscli)
[ ${#need[@]} = 0 ] && exit 0
echo "deps: installing ${need[*]} with apt-get" >&2
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
}
