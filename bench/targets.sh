#!/bin/bash
# Every figure of issue 5's targets in one sequence, on a quiet machine: the peer comparison
# (bench/compare.sh at its real sizes), then herald alone at the target sizes, then 5 nodes × 19 000 behind
# one Redis (bench/cluster.sh). A fresh bench-server per scenario. JSON in $OUT (default bench/results/final),
# the comparison in bench/results/compare; render with bench/charts.py. About 8 minutes once built.
#
#   swift build -c release --product herald
#   swift build -c release --package-path bench/peers/hummingbird-peer
#   bench/targets.sh
set -uo pipefail
cd "$(dirname "$0")/.."
H=${HERALD:-$PWD/.build/release/herald}
OUT=${OUT:-bench/results/final}
PORT=${PORT:-3300}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

run() { # name, bench arguments…
    local name=$1; shift
    local log="$OUT/$name.server.log"
    "$H" bench-server --port "$PORT" >"$log" 2>&1 &
    local pid=$!
    # The server prints its listening line once bound.
    for _ in $(seq 100); do grep -q listening "$log" 2>/dev/null && break; sleep 0.1; done
    echo "== $name $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    "$H" bench "$@" --port "$PORT" --server-pid "$pid" --output "$OUT/$name.json"
    kill "$pid"; wait "$pid" 2>/dev/null
}

echo "start $(date +%T)"
IDLE=10000 STORM=5000 BROADCAST_STEP=1000 BROADCAST_MAX=10000 FANOUT=1000 FANOUT_EVENTS=1000 FANOUT_RATE=50 \
    FANOUT_DRAIN=120 SKIP_BUILD=1 HERALD="$H" PORT="$PORT" bench/compare.sh
run idle-19k idle --clients 19000 --ramp 5000 --source-addresses 2
run storm-10k storm --clients 10000 --source-addresses 2
run fanout-burst fanout --members 1000 --events 5000 --rate 0
run fanout-100 fanout --members 1000 --events 1000 --rate 100
run broadcast-19k broadcast --max-clients 19000 --source-addresses 2
NODES=5 CLIENTS=95000 BROADCASTS=10 RATE=0.5 HERALD="$H" RESULTS="$OUT" bench/cluster.sh
echo "done $(date +%T)"
