#!/usr/bin/env bash
# Resident memory of an idle `g90 serve` with one (simulated) panel: the
# simulator runs as its own process, the daemon with the embedded broker,
# journal and web UI; after SETTLE seconds (default 20) the daemon's VmRSS
# is read from /proc. Only loopback is used.
#
#   bash scripts/idle-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
settle=${SETTLE:-20}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/g90" ./cmd/g90
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim=$(port); notify=$(port); mqtt=$(port); web=$(port)
"$dir/g90" sim --listen 127.0.0.1:$sim --notify 127.0.0.1:$notify >/dev/null 2>&1 &
cat >"$dir/g90.yaml" <<YAML
mqtt:
  listen: 127.0.0.1:$mqtt
web:
  listen: 127.0.0.1:$web
state_dir: $dir/state
panels:
  - name: sim
    host: 127.0.0.1
    port: $sim
    notify_listen: 127.0.0.1:$notify
YAML
"$dir/g90" serve --config "$dir/g90.yaml" >"$dir/serve.log" 2>&1 &
pid=$!
sleep "$settle"
if ! kill -0 $pid 2>/dev/null; then cat "$dir/serve.log"; exit 1; fi
grep -q 'g90_mqtt_connected 1' <(curl -s http://127.0.0.1:$web/metrics) || { echo "daemon not connected"; cat "$dir/serve.log"; exit 1; }
echo "g90 serve, one panel, idle ${settle}s: $(grep VmRSS /proc/$pid/status)"
