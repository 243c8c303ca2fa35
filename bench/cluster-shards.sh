#!/bin/bash
# `herald bench cluster` against one Redis and against a 3-primary Redis Cluster in the same run: a throwaway
# redis-server and 3 cluster-enabled redis-servers (no replicas, `redis-cli --cluster create`), then for each:
# NODES `bench-server`s with --rooms ROOMS (every client joins the rooms; broadcasts go to them in turn, so
# on the cluster they spread over the shards with SPUBLISH), a throughput run (BROADCASTS_T sent at once,
# publishing from each node in turn) and a latency run (BROADCASTS_L at RATE/s). Prints publishes/s, latency to
# the last client, and CPU per publish of the nodes, of Redis (all its processes) and of the bench. Everything
# it started is stopped on exit.
#
#   swift build -c release --product herald
#   bench/cluster-shards.sh
#
# Variables: NODES (2), CLIENTS (20, round robin over the nodes: few, so publishing, not fan-out, is the work), ROOMS (12), BROADCASTS_T (5000),
# BROADCASTS_L (600), RATE (200), REDIS_PORT (6391), CLUSTER_PORT (7101…7103), BASE_PORT (3321), HERALD, RESULTS.
set -euo pipefail
cd "$(dirname "$0")/.."
HERALD=${HERALD:-.build/release/herald}
NODES=${NODES:-2} CLIENTS=${CLIENTS:-20} ROOMS=${ROOMS:-12}
BROADCASTS_T=${BROADCASTS_T:-5000} BROADCASTS_L=${BROADCASTS_L:-600} RATE=${RATE:-200}
REDIS_PORT=${REDIS_PORT:-6391} CLUSTER_PORT=${CLUSTER_PORT:-7101} BASE_PORT=${BASE_PORT:-3321}
RESULTS=${RESULTS:-bench/results}
mkdir -p "$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PIDS=() NODE_PIDS=()
cleanup() {
    for pid in "${NODE_PIDS[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${NODE_PIDS[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$RESULTS/cluster-shards-redis"
}
trap cleanup EXIT INT TERM
. bench/bench-nodes.sh

start_redis() {  # port, extra arguments…
    local port=$1; shift
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning "$@" \
        > "$RESULTS/cluster-shards-redis-$port.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.05; done
}
# CPU seconds (user + system) of the given pids, from /proc (10 ms ticks).
cpu_seconds() {
    local ticks=0
    for pid in "$@"; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
    echo "scale=3; $ticks / $(getconf CLK_TCK)" | bc
}

start_redis "$REDIS_PORT"
SINGLE_PIDS=("${PIDS[-1]}")
CLUSTER_DIR="$(cd "$RESULTS" && pwd)/cluster-shards-redis"
mkdir -p "$CLUSTER_DIR"
CLUSTER_PIDS=() SEEDS=""
for i in 0 1 2; do
    port=$((CLUSTER_PORT + i))
    start_redis "$port" --cluster-enabled yes --cluster-config-file "$CLUSTER_DIR/nodes-$port.conf" \
        --dir "$CLUSTER_DIR"
    CLUSTER_PIDS+=("${PIDS[-1]}")
    SEEDS+="${SEEDS:+,}127.0.0.1:$port"
done
redis-cli --cluster create $(echo "$SEEDS" | tr , ' ') --cluster-yes > "$RESULTS/cluster-shards-create.log" 2>&1
for _ in $(seq 200); do
    redis-cli -p "$CLUSTER_PORT" cluster info | grep -q 'cluster_state:ok' && break; sleep 0.05
done

run() {  # label, redis option, redis pids…
    local label=$1 option=$2; shift 2
    start_bench_nodes "$RESULTS/cluster-shards-$label" --threads 1 --rooms "$ROOMS" $option
    for kind in throughput latency; do
        local broadcasts=$BROADCASTS_T rate=0
        [ "$kind" = latency ] && broadcasts=$BROADCASTS_L rate=$RATE
        local before; before=$(cpu_seconds "$@")
        "$HERALD" bench cluster --servers "$SERVERS" --server-pids "$SERVER_PIDS" --clients "$CLIENTS" \
            --broadcasts "$broadcasts" --rate "$rate" --rotate --ramp 0 --drain 60 \
            --output "$RESULTS/cluster-shards-$label-$kind.json" > /dev/null
        echo "$(echo "$(cpu_seconds "$@") - $before" | bc)" > "$RESULTS/cluster-shards-$label-$kind.redis-cpu"
        echo "$label $kind done; load $(cut -d' ' -f1-3 /proc/loadavg)"
    done
    for pid in "${NODE_PIDS[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
    NODE_PIDS=()
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
run single "--redis-url redis://127.0.0.1:$REDIS_PORT" "${SINGLE_PIDS[@]}"
run shards3 "--redis-cluster $SEEDS" "${CLUSTER_PIDS[@]}"

echo -n "SPUBLISH calls per primary:"
for i in 0 1 2; do
    echo -n " $((CLUSTER_PORT + i))=$(redis-cli -p $((CLUSTER_PORT + i)) info commandstats | grep -o 'cmdstat_spublish:calls=[0-9]*' | cut -d= -f2)"
done
echo
python3 - "$RESULTS" "$NODES" "$CLIENTS" "$ROOMS" <<'PY'
import json, sys
results, nodes, clients, rooms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"\n{nodes} nodes, {clients} clients, {rooms} rooms; per publish: CPU ms of the nodes (all), Redis (all processes), bench")
print("| Redis | publishes/s (at once) | deliveries/s | node CPU / publish | Redis CPU / publish | bench CPU / publish | to last client p50 / p99 at rate | lost / dup |")
print("|---|---|---|---|---|---|---|---|")
for label, name in (("single", "one redis-server"), ("shards3", "Redis Cluster, 3 primaries")):
    t = json.load(open(f"{results}/cluster-shards-{label}-throughput.json"))
    l = json.load(open(f"{results}/cluster-shards-{label}-latency.json"))
    redis_cpu = float(open(f"{results}/cluster-shards-{label}-throughput.redis-cpu").read())
    b = t["broadcasts"]
    node_cpu = sum((n.get("serverCPU") or {}).get("cpuSeconds", 0) for n in t["perNode"])
    print(f"| {name} | {b / t['seconds']:.0f} | {t['deliveriesPerSecond']:.0f} | {1000 * node_cpu / b:.3f} ms | "
          f"{1000 * redis_cpu / b:.3f} ms | {1000 * t['benchCPU']['cpuSeconds'] / b:.3f} ms | "
          f"{l['toLastClient']['p50']:.1f} / {l['toLastClient']['p99']:.1f} ms ({l['rate']:.0f}/s) | "
          f"{t['lost'] + l['lost']} / {t['duplicated'] + l['duplicated']} |")
PY
