# Sourced by the screenshot scripts (scripts/ui-screenshot.sh,
# scripts/prometheus-screenshot.sh): use the running demo, or start one and stop it when
# the script exits. Needs say() and the working directory at the repository's root.
#
#   demo_session CHECK [VAR=VALUE...]
#     CHECK (a command) succeeds when a suitable demo runs; otherwise scripts/demo.sh
#     starts with the VAR=VALUE environment (log $tmp/demo.log) and demo_session waits
#     for .demo/ready (300 s).
# At exit: the processes in pids are killed, the demo it started is stopped (SIGTERM:
# the demo stops its processes in order), $tmp is removed.
pids=()
demo_pid=
tmp=$(mktemp -d)
demo_session_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$demo_pid" ]; then
    say "stopping the demo it started"
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap demo_session_cleanup EXIT

demo_session() {
  local check=$1
  shift
  "$check" && return 0
  say "no suitable demo running: starting ${*:+$* }scripts/demo.sh (log $tmp/demo.log)"
  env "$@" scripts/demo.sh >"$tmp/demo.log" 2>&1 &
  demo_pid=$!
  for _ in $(seq 1 600); do
    [ -f .demo/ready ] && return 0
    kill -0 "$demo_pid" 2>/dev/null || { tail -20 "$tmp/demo.log" >&2; exit 1; }
    sleep 0.5
  done
  say "demo not ready after 300s" >&2
  exit 1
}
