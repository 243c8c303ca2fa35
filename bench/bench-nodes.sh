# Sourced by bench/cluster.sh and bench/cluster-shards.sh. start_bench_nodes LOG_PREFIX ARGUMENTS…: starts NODES
# `$HERALD bench-server`s on ports BASE_PORT… with ARGUMENTS, logs at LOG_PREFIX-node-I.log, appends their pids to
# NODE_PIDS (for the caller's cleanup), sets SERVERS (ws://…,…) and SERVER_PIDS (pid,…), and waits until each
# listens (it does once its adapter has subscribed on Redis); exits when one does not start.
start_bench_nodes() {
    local prefix=$1 i port
    shift
    SERVERS="" SERVER_PIDS=""
    for i in $(seq 0 $((NODES - 1))); do
        port=$((BASE_PORT + i))
        "$HERALD" bench-server --port "$port" "$@" > "$prefix-node-$i.log" 2>&1 &
        NODE_PIDS+=($!)
        SERVERS+="${SERVERS:+,}ws://127.0.0.1:$port"
        SERVER_PIDS+="${SERVER_PIDS:+,}$!"
    done
    for i in $(seq 0 $((NODES - 1))); do
        for _ in $(seq 600); do grep -q listening "$prefix-node-$i.log" 2>/dev/null && break; sleep 0.05; done
        grep -q listening "$prefix-node-$i.log" || { echo "node $i did not start:"; cat "$prefix-node-$i.log"; exit 1; }
    done
}
