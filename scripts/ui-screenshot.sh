#!/usr/bin/env bash
# Headless-Chromium screenshot of the Temporal Web UI listing the partition workflows with
# their search attributes as columns (BackbeatPartition, BackbeatTopic, BackbeatBacklog,
# BackbeatProcessed, BackbeatPaused).
#
#   scripts/ui-screenshot.sh [FILE]      # default docs/img/web-ui-partitions.png
#
# Uses the running `make demo` when .demo/ready exists; otherwise starts one (scripts/
# demo.sh) and stops it afterwards. Puts UI_SCREENSHOT_OBJECTS objects (default 16) under
# screenshot/ on source-bucket so that every partition has a workflow, waits until they
# are replicated, then takes the screenshot. Installs Debian's chromium when missing.
#
# The Web UI (2.42, bundled with the Temporal CLI) keeps its column choice in the
# browser's localStorage, which no URL can set:
# the page is loaded through a small same-origin proxy (python3, 127.0.0.1, a free port)
# that first serves a page storing the column list, then redirects to the workflows list
# filtered by WorkflowType="BackbeatPartition". The UI itself is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-docs/img/web-ui-partitions.png}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
UI=${UI_SCREENSHOT_UI:-http://127.0.0.1:8233}
OBJECTS=${UI_SCREENSHOT_OBJECTS:-16}
AWS=${DEMO_AWS:-/usr/bin/aws}
say() { printf 'ui-screenshot: %s\n' "$*"; }

chromium_bin() { command -v chromium || command -v chromium-browser || true; }
if [ -z "$(chromium_bin)" ]; then
  say "installing Debian's chromium with apt-get"
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || {
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq chromium >/dev/null
  }
fi
CHROMIUM=$(chromium_bin)
[ -n "$CHROMIUM" ] || { echo "ui-screenshot: chromium not found after apt-get install" >&2; exit 1; }

. scripts/demo-session.sh
demo_ready() { [ -f .demo/ready ]; }
demo_session demo_ready
[ -x bin/starter ] || make -s build
. .demo/env
aws=("$AWS" --endpoint-url "$BACKBEAT_S3_ENDPOINT" --profile backbeatuser)

say "putting $OBJECTS objects under screenshot/ on source-bucket (one workflow per partition)"
mkdir -p "$tmp/objects"
for i in $(seq 1 "$OBJECTS"); do echo "screenshot object $i" >"$tmp/objects/object-$i"; done
"${aws[@]}" s3 cp --recursive --only-show-errors "$tmp/objects" s3://source-bucket/screenshot/
# latest KEY: the replication status of KEY's latest version (starter status).
latest() {
  "$ROOT/bin/starter" status --bucket source-bucket --key "$1" --source-profile backbeatuser --output json 2>/dev/null |
    python3 -c 'import json,sys; v=[x for x in json.load(sys.stdin) if x.get("isLatest")]; print(v[0]["sourceStatus"] if v else "")' 2>/dev/null || true
}
deadline=$((SECONDS + 60))
for i in $(seq 1 "$OBJECTS"); do
  until [ "$(latest "screenshot/object-$i")" = COMPLETED ]; do
    [ "$SECONDS" -lt "$deadline" ] || { say "screenshot/object-$i not COMPLETED after 60s" >&2; exit 1; }
    sleep 0.2
  done
done
say "all $OBJECTS COMPLETED"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
query='WorkflowType="BackbeatPartition"'
target="/namespaces/default/workflows?query=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$query")"
cat >"$tmp/proxy.py" <<'PY'
import http.client, http.server, json, sys

port, upstream, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
host = upstream.split("//", 1)[1]
# The Web UI's persisted column list (localStorage "namespace-workflow-table-columns").
columns = {"default": [
    {"label": "Status", "pinned": True},
    {"label": "Workflow ID", "pinned": True},
    {"label": "BackbeatPartition", "pinned": False},
    {"label": "BackbeatBacklog", "pinned": False},
    {"label": "BackbeatProcessed", "pinned": False},
    {"label": "BackbeatPaused", "pinned": False},
    {"label": "BackbeatTopic", "pinned": False},
    {"label": "Type", "pinned": False},
    {"label": "Start", "pinned": False},
]}
# ... and the "Saved Views" side panel folded ("savedQueryNavOpen"), to give the columns room.
page = ("<!doctype html><script>localStorage.setItem('namespace-workflow-table-columns',"
        + json.dumps(json.dumps(columns)) + ");localStorage.setItem('savedQueryNavOpen','false');"
        + "location.replace(" + json.dumps(target) + ");</script>").encode()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}

class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def relay(self):
        if self.path == "/__backbeat_columns":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        c = http.client.HTTPConnection(host, timeout=30)
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = relay

http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
PY
python3 "$tmp/proxy.py" "$port" "$UI" "$target" &
pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
say "screenshot of $UI$target (columns set through 127.0.0.1:$port)"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --window-size=1600,1000 --hide-scrollbars \
  --virtual-time-budget=15000 --screenshot="$OUT" \
  "http://127.0.0.1:$port/__backbeat_columns" >"$tmp/chromium.log" 2>&1 || {
  tail -20 "$tmp/chromium.log" >&2
  exit 1
}
[ -s "$OUT" ] || { say "no screenshot written" >&2; tail -20 "$tmp/chromium.log" >&2; exit 1; }
say "wrote $OUT ($(stat -c %s "$OUT") bytes)"
