#!/usr/bin/env bash
# Fresh clone -> serving `make serve`, timed: clone REPO into a scratch folder (with the
# shared corpus beside it, as ../shared), run `make serve` on a free loopback port and
# report the seconds until /readyz answers 200 (database migrated, model loaded).
#   bench/fresh_clone.sh REPO [PIP_CACHE_DIR] [SHARED]
# An empty PIP_CACHE_DIR measures a cold install; run twice with the same one for warm.
set -euo pipefail
repo=${1:?repository to clone}
cache=${2:-$HOME/.cache/pip}
shared=${3:-$(cd "$repo" && cd ../shared 2>/dev/null && pwd || true)}
top=$(mktemp -d /tmp/chatflow-fresh-XXXXXX)
dir=$top/chatflow
[ -n "$shared" ] && ln -s "$shared" "$top/shared"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
start=$(date +%s.%N)
git clone --quiet "$repo" "$dir"
cd "$dir"
PIP_CACHE_DIR=$cache CHATFLOW_DATA_DIR="$dir/data" setsid make serve PORT="$port" >"$top/serve.log" 2>&1 &
pid=$!
trap 'kill -- -$pid 2>/dev/null; sleep 1; rm -rf "$top"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  if ! kill -0 $pid 2>/dev/null; then cat "$top/serve.log"; exit 1; fi
  sleep 0.2
done
end=$(date +%s.%N)
printf 'fresh clone -> /readyz 200: %.1f s (pip cache %s; load average %s)\n' \
  "$(echo "$end - $start" | bc)" "$cache" "$(cut -d' ' -f1-3 /proc/loadavg)"
