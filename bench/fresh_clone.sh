#!/usr/bin/env bash
# Fresh clone -> serving `make serve`, timed: clone REPO into a scratch folder, run
# `make serve` on a free loopback port and report the seconds until /healthz answers.
#   bench/fresh_clone.sh REPO [PIP_CACHE_DIR]
# An empty PIP_CACHE_DIR measures a cold install; run twice with the same one for warm.
set -euo pipefail
repo=${1:?repository to clone}
cache=${2:-$HOME/.cache/pip}
dir=$(mktemp -d /tmp/chatflow-fresh-XXXXXX)
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
start=$(date +%s.%N)
git clone --quiet "$repo" "$dir"
cd "$dir"
PIP_CACHE_DIR=$cache CHATFLOW_DATA_DIR="$dir/data" setsid make serve PORT="$port" >"$dir/serve.log" 2>&1 &
pid=$!
trap 'kill -- -$pid 2>/dev/null; sleep 1; rm -rf "$dir"' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
  if ! kill -0 $pid 2>/dev/null; then cat "$dir/serve.log"; exit 1; fi
  sleep 0.2
done
end=$(date +%s.%N)
printf 'fresh clone -> serving: %.1f s (pip cache %s)\n' "$(echo "$end - $start" | bc)" "$cache"
