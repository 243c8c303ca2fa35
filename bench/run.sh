#!/bin/sh
# Runs each `herald bench` scenario once against a fresh `herald bench-server` per scenario and renders the
# charts. Sizes are moderate on purpose (the machine is shared); raise them with the variables below.
# Output: $RESULTS/*.json and *.png (default bench/results, gitignored).
set -eu
cd "$(dirname "$0")/.."
HERALD=${HERALD:-.build/release/herald}
PORT=${PORT:-3300}
IDLE=${IDLE:-5000} STORM=${STORM:-2000} BROADCAST_MAX=${BROADCAST_MAX:-3000} FANOUT=${FANOUT:-1000}
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"

serve() {
    "$HERALD" bench-server --port "$PORT" > /dev/null &
    SERVER=$!
    sleep 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

serve; "$HERALD" bench idle --port "$PORT" --clients "$IDLE" --server-pid "$SERVER" --output "$RESULTS/idle.json"; stop
serve; "$HERALD" bench storm --port "$PORT" --clients "$STORM" --server-pid "$SERVER" --output "$RESULTS/storm.json"; stop
serve; "$HERALD" bench broadcast --port "$PORT" --max-clients "$BROADCAST_MAX" --server-pid "$SERVER" --output "$RESULTS/broadcast.json"; stop
serve; "$HERALD" bench fanout --port "$PORT" --members "$FANOUT" --events 2000 --rate 200 --server-pid "$SERVER" --output "$RESULTS/fanout.json"; stop

if [ ! -x bench/.venv/bin/python ]; then python3 -m venv bench/.venv && bench/.venv/bin/pip install -q matplotlib; fi
bench/.venv/bin/python bench/charts.py "$RESULTS"/*.json --out "$RESULTS"
