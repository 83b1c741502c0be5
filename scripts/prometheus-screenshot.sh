#!/usr/bin/env bash
# Headless-Chromium screenshot of Prometheus' graph page over the demo's metrics: the
# dashboard's throughput and put -> COMPLETED latency queries
# (deploy/grafana/dashboards/backbeat.json).
#
#   scripts/prometheus-screenshot.sh [FILE]    # default docs/img/prometheus-graph.png
#
# Uses the running `DEMO_PROMETHEUS=1 make demo` when .demo/ready exists and Prometheus
# answers on 127.0.0.1:9090; otherwise starts one (DEMO_PROMETHEUS=1 scripts/demo.sh) and
# stops it afterwards. Puts PROM_SCREENSHOT_OBJECTS objects (default 200) on source-bucket
# in a few waves so that the graphs have a shape, waits PROM_SCREENSHOT_WAIT seconds
# (default 60: a few scrapes), then takes the screenshot. Needs Debian's chromium
# (scripts/ui-screenshot.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-docs/img/prometheus-graph.png}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
OBJECTS=${PROM_SCREENSHOT_OBJECTS:-200}
WAIT=${PROM_SCREENSHOT_WAIT:-60}
AWS=${DEMO_AWS:-/usr/bin/aws}
PROM=http://127.0.0.1:9090
say() { printf 'prometheus-screenshot: %s\n' "$*"; }

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "prometheus-screenshot: chromium not found (apt-get install chromium)" >&2; exit 1; }

. scripts/demo-session.sh
demo_with_prometheus() { [ -f .demo/ready ] && curl -fsS -m 2 -o /dev/null "$PROM/-/ready"; }
demo_session demo_with_prometheus DEMO_PROMETHEUS=1
. .demo/env
aws=("$AWS" --endpoint-url "$BACKBEAT_S3_ENDPOINT" --profile backbeatuser)

say "putting $OBJECTS objects on source-bucket in 4 waves"
mkdir -p "$tmp/objects"
for wave in 1 2 3 4; do
  rm -f "$tmp/objects"/*
  for i in $(seq 1 $((OBJECTS / 4))); do head -c $((i * 1000)) /dev/urandom >"$tmp/objects/object-$wave-$i"; done
  "${aws[@]}" s3 cp --recursive --only-show-errors "$tmp/objects" "s3://source-bucket/prometheus/"
  sleep $((WAIT / 4))
done

# Prometheus' graph page: one panel per query, the last 5 minutes.
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
q0=$(enc 'sum by (status) (rate(backbeat_worker_statuses_total[1m]))')
q1=$(enc 'histogram_quantile(0.99, sum by (le) (rate(backbeat_worker_put_to_completed_seconds_bucket[1m])))')
url="$PROM/graph?g0.expr=$q0&g0.tab=0&g0.range_input=5m&g1.expr=$q1&g1.tab=0&g1.range_input=5m"
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
say "screenshot of $url"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --window-size=1400,1480 --hide-scrollbars \
  --virtual-time-budget=15000 --screenshot="$OUT" "$url" >"$tmp/chromium.log" 2>&1 || {
  tail -20 "$tmp/chromium.log" >&2
  exit 1
}
[ -s "$OUT" ] || { say "no screenshot written" >&2; tail -20 "$tmp/chromium.log" >&2; exit 1; }
say "wrote $OUT ($(stat -c %s "$OUT") bytes)"
