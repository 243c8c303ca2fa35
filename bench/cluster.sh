#!/bin/bash
# The `cluster` scenario in one command: a throwaway redis-server, K `herald bench-server --redis-url` nodes,
# then `herald bench cluster` (N clients round robin over the nodes, spread over P bench processes) and the
# cross-node fanout latency (1 000-member room on node 1, publisher on node 0, next to the same on one node).
# Everything it started is stopped on exit.
#
#   swift build -c release --product herald
#   NODES=3 CLIENTS=9000 bench/cluster.sh                  # 3 nodes × 3 000 clients
#   NODES=5 CLIENTS=95000 PROCESSES=5 bench/cluster.sh     # 5 nodes × 19 000 (each process ≤ 20 000 fds)
#
# Variables: NODES, CLIENTS, PROCESSES (default: one per 18 000 clients), BROADCASTS, RATE (broadcasts/s),
# ROTATE=1 (publish from each node in turn), RAMP (connections/s in all, 0 = unpaced), THREADS (per node),
# BENCH_THREADS (per bench process), SOURCES (loopback source addresses, split over the processes), FANOUT (room size, 0 = skip), FANOUT_EVENTS, FANOUT_RATE,
# REDIS_PORT (6390), BASE_PORT (3301), HERALD, RESULTS (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
HERALD=${HERALD:-.build/release/herald}
NODES=${NODES:-3} CLIENTS=${CLIENTS:-9000}
PROCESSES=${PROCESSES:-$(( (CLIENTS + 17999) / 18000 ))}
BROADCASTS=${BROADCASTS:-20} RATE=${RATE:-2} ROTATE=${ROTATE:-0} RAMP=${RAMP:-5000}
THREADS=${THREADS:-1} BENCH_THREADS=${BENCH_THREADS:-1}
# One loopback source address per bench process (127.0.0.1…): without them, connect() ran out of ports at
# ~84 800 connections over 5 nodes (EADDRNOTAVAIL), although each node's 4-tuples had ports to spare.
SOURCES=${SOURCES:-$PROCESSES}
FANOUT=${FANOUT:-1000} FANOUT_EVENTS=${FANOUT_EVENTS:-1000} FANOUT_RATE=${FANOUT_RATE:-100}
REDIS_PORT=${REDIS_PORT:-6390} BASE_PORT=${BASE_PORT:-3301}
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"

# As many descriptors as allowed: the nodes and bench processes inherit this limit (each raises its own
# soft limit to the hard one as well).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "fd limit $(ulimit -n); somaxconn $(cat /proc/sys/net/core/somaxconn); ports $(cat /proc/sys/net/ipv4/ip_local_port_range | tr '\t' '-')"

PIDS=() NODE_PIDS=()
cleanup() {
    for pid in "${NODE_PIDS[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
. bench/bench-nodes.sh
trap cleanup EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning > "$RESULTS/cluster-redis.log" 2>&1 &
PIDS+=($!)
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1 && break; sleep 0.05; done

start_bench_nodes "$RESULTS/cluster" --threads "$THREADS" --redis-url "redis://127.0.0.1:$REDIS_PORT"
echo "redis pid $REDIS_PID on $REDIS_PORT; nodes $SERVERS (pids $SERVER_PIDS); load: $(cut -d' ' -f1-3 /proc/loadavg)"

ROTATE_FLAG=()
[ "$ROTATE" = 1 ] && ROTATE_FLAG=(--rotate)
"$HERALD" bench cluster --servers "$SERVERS" --server-pids "$SERVER_PIDS" --clients "$CLIENTS" \
    --processes "$PROCESSES" --source-addresses "$SOURCES" --threads "$BENCH_THREADS" --broadcasts "$BROADCASTS" --rate "$RATE" --ramp "$RAMP" \
    "${ROTATE_FLAG[@]}" --output "$RESULTS/cluster-$NODES-$CLIENTS.json"
echo "redis-server so far: $(ps -o cputime=,rss= -p "$REDIS_PID" | awk '{print "CPU " $1 ", RSS " $2 " KiB"}')"

if [ "$FANOUT" -gt 0 ] && [ "$NODES" -ge 2 ]; then
    FIRST=$(echo "$SERVER_PIDS" | cut -d, -f1)
    SECOND=$(echo "$SERVER_PIDS" | cut -d, -f2)
    echo "fanout, one node (members and publisher on node 0):"
    "$HERALD" bench fanout --servers "$SERVERS" --member-node 0 --publisher-node 0 --members "$FANOUT" \
        --events "$FANOUT_EVENTS" --rate "$FANOUT_RATE" --server-pid "$FIRST" --output "$RESULTS/cluster-fanout-local.json"
    echo "fanout, across nodes (members on node 1, publisher on node 0; server CPU is node 1's):"
    "$HERALD" bench fanout --servers "$SERVERS" --member-node 1 --publisher-node 0 --members "$FANOUT" \
        --events "$FANOUT_EVENTS" --rate "$FANOUT_RATE" --server-pid "$SECOND" --output "$RESULTS/cluster-fanout-cross.json"
fi
