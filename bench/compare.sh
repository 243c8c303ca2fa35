#!/usr/bin/env bash
# Side by side: runs the same `herald bench` scenarios against herald's bench-server and the peer servers in
# bench/peers (python-socketio on uvicorn, Node.js on Debian's ws, Hummingbird 2, and the reference socket.io
# when it was built with bench/peers/socketio/build.sh), one after another on the
# same port, a fresh server process per scenario, with --server-pid so server CPU and RSS are measured.
# Writes $RESULTS/<server>-<scenario>.json, then bench/compare.py prints and writes $RESULTS/compare.md
# (each figure per server and herald's ratio to each peer) and bench/charts.py renders $RESULTS/compare-*.png.
#
#   bench/compare.sh                       # smoke sizes, every server (socketio only when built)
#   bench/compare.sh herald node socketio  # only these servers
#   IDLE=10000 STORM=5000 BROADCAST_STEP=1000 BROADCAST_MAX=10000 FANOUT=1000 FANOUT_EVENTS=2000 \
#     FANOUT_RATE=100 bench/compare.sh     # the real run (quiet machine; see BENCHMARKS.md)
#
# Sizes (env): IDLE clients, STORM clients, BROADCAST_STEP/BROADCAST_MAX clients, BROADCASTS per step,
# P95_LIMIT ms, FANOUT members, FANOUT_EVENTS, FANOUT_RATE events/s, FANOUT_DRAIN s to wait for stragglers,
# SOURCE_ADDRESSES for the bench, SCENARIOS to run (default: idle storm broadcast fanout).
# HERALD: the herald binary (built with `swift build -c release --product herald` when missing);
# the Hummingbird peer is built release in its own package (bench/peers/hummingbird-peer/.build).
# SKIP_BUILD=1 uses what is there. Needs: python3 (venv), /usr/bin/node with Debian's node-ws.
# The socketio peer (socket.io 4.8.3 / engine.io 6.6.9) is never built by this script nor by CI: its source is
# not shipped here; bench/peers/socketio/build.sh SRC builds it from a socketio/socket.io snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

HERALD=${HERALD:-$ROOT/.build/release/herald}
PORT=${PORT:-3300}
IDLE=${IDLE:-500} STORM=${STORM:-500}
BROADCAST_STEP=${BROADCAST_STEP:-500} BROADCAST_MAX=${BROADCAST_MAX:-2000} BROADCASTS=${BROADCASTS:-200} P95_LIMIT=${P95_LIMIT:-250}
FANOUT=${FANOUT:-200} FANOUT_EVENTS=${FANOUT_EVENTS:-400} FANOUT_RATE=${FANOUT_RATE:-100} FANOUT_DRAIN=${FANOUT_DRAIN:-30}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-1}
read -r -a SCENARIOS <<< "${SCENARIOS:-idle storm broadcast fanout}"
RESULTS=${RESULTS:-bench/results/compare}
VENV=$ROOT/bench/.venv
HB_PACKAGE=$ROOT/bench/peers/hummingbird-peer
HB_BINARY=$HB_PACKAGE/.build/release/HummingbirdPeer
SOCKETIO_BUILD=$ROOT/bench/peers/socketio/build
SERVERS=("$@")
if [ ${#SERVERS[@]} -eq 0 ]; then
    SERVERS=(herald python node)
    [ ! -f "$SOCKETIO_BUILD/VERSIONS" ] || SERVERS+=(socketio)
    SERVERS+=(hummingbird)
fi

log() { printf '\n== %s\n' "$*" >&2; }

# --- set up what the chosen servers need -------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import socketio, uvicorn, matplotlib' 2>/dev/null; then
    log "creating $VENV (python-socketio, uvicorn[standard], matplotlib)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'python-socketio>=5,<6' 'uvicorn[standard]>=0.30,<1' matplotlib
fi
for server in "${SERVERS[@]}"; do
    case $server in
    herald)
        if [ ! -x "$HERALD" ] && [ "${SKIP_BUILD:-0}" != 1 ]; then
            log "building herald (release)"
            swift build -c release --product herald
        fi ;;
    hummingbird)
        if [ "${SKIP_BUILD:-0}" != 1 ] || [ ! -x "$HB_BINARY" ]; then
            log "building the Hummingbird peer (release, its own .build)"
            swift build -c release --package-path "$HB_PACKAGE"
        fi ;;
    node)
        [ -f /usr/share/nodejs/ws/package.json ] || { echo "needs Debian's node-ws: apt-get install node-ws" >&2; exit 1; } ;;
    socketio)
        [ -f "$SOCKETIO_BUILD/VERSIONS" ] || { echo "socketio is not built: bench/peers/socketio/build.sh SRC" >&2; exit 1; } ;;
    python) ;;
    *) echo "unknown server: $server (herald, python, node, socketio, hummingbird)" >&2; exit 1 ;;
    esac
done
[ -x "$HERALD" ] || { echo "no herald binary at $HERALD (set HERALD=…)" >&2; exit 1; }
mkdir -p "$RESULTS"

# --- one fresh server per scenario --------------------------------------------------------------------
SERVER_PID=
start() {
    case $1 in
    herald)      "$HERALD" bench-server --port "$PORT" > "$RESULTS/$1.log" 2>&1 & ;;
    python)      "$VENV/bin/python" bench/peers/python/server.py --port "$PORT" > "$RESULTS/$1.log" 2>&1 & ;;
    node)        NODE_PATH=/usr/share/nodejs node bench/peers/node/server.js --port "$PORT" > "$RESULTS/$1.log" 2>&1 & ;;
    socketio)    NODE_PATH=/usr/share/nodejs node bench/peers/socketio/server.js --port "$PORT" > "$RESULTS/$1.log" 2>&1 & ;;
    hummingbird) "$HB_BINARY" --port "$PORT" > "$RESULTS/$1.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$RESULTS/$1.log" >&2; echo "$1 did not start" >&2; exit 1; }
        sleep 0.1
    done
    echo "$1 is not listening on $PORT after 10 s" >&2
    exit 1
}
stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    sleep 1   # let the clients' sockets go before the next server binds
}
trap '[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT

bench() {   # bench SERVER SCENARIO args…
    local server=$1 scenario=$2
    shift 2
    log "$server: $scenario $*"
    start "$server"
    "$HERALD" bench "$scenario" --port "$PORT" --source-addresses "$SOURCE_ADDRESSES" --server-pid "$SERVER_PID" \
        --output "$RESULTS/$server-$scenario.json" "$@" || echo "bench $scenario against $server failed (exit $?)" >&2
    stop
}

# What ran where, for the table's header.
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "herald: $HERALD (bench-server, $(nproc) event loop threads)"
    echo "python: python-socketio $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("python-socketio"), "/ uvicorn", m.version("uvicorn"))'), one process"
    echo "node: $(node --version), ws $(sed -n 's/.*"version": "\(.*\)".*/\1/p' /usr/share/nodejs/ws/package.json), one process"
    [ ! -f "$SOCKETIO_BUILD/VERSIONS" ] || echo "socketio: $(cat "$SOCKETIO_BUILD/VERSIONS"), node $(node --version), one process"
    if [ -f "$HB_PACKAGE/Package.resolved" ]; then
        echo "hummingbird: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(p["identity"]+" "+p["state"].get("version","?") for p in d["pins"] if p["identity"] in ("hummingbird","hummingbird-websocket","swift-websocket")))' "$HB_PACKAGE/Package.resolved"), NIO singleton group ($(nproc) threads)"
    fi
    echo "scenarios: ${SCENARIOS[*]}"
    echo "sizes: IDLE=$IDLE STORM=$STORM BROADCAST_STEP=$BROADCAST_STEP BROADCAST_MAX=$BROADCAST_MAX BROADCASTS=$BROADCASTS P95_LIMIT=$P95_LIMIT FANOUT=$FANOUT FANOUT_EVENTS=$FANOUT_EVENTS FANOUT_RATE=$FANOUT_RATE FANOUT_DRAIN=$FANOUT_DRAIN"
} > "$RESULTS/meta.txt"
cat "$RESULTS/meta.txt" >&2

STARTED=$SECONDS
for server in "${SERVERS[@]}"; do
    for scenario in "${SCENARIOS[@]}"; do
        case $scenario in
        idle)      bench "$server" idle --clients "$IDLE" ;;
        storm)     bench "$server" storm --clients "$STORM" ;;
        broadcast) bench "$server" broadcast --step "$BROADCAST_STEP" --max-clients "$BROADCAST_MAX" --broadcasts "$BROADCASTS" --p95-limit "$P95_LIMIT" ;;
        fanout)    bench "$server" fanout --members "$FANOUT" --events "$FANOUT_EVENTS" --rate "$FANOUT_RATE" --drain "$FANOUT_DRAIN" ;;
        *) echo "unknown scenario: $scenario (idle, storm, broadcast, fanout)" >&2; exit 1 ;;
        esac
    done
done
log "benches took $((SECONDS - STARTED)) s"

"$VENV/bin/python" bench/compare.py "$RESULTS" --servers "${SERVERS[@]}" --out "$RESULTS/compare.md"
"$VENV/bin/python" bench/charts.py --compare "$RESULTS" --out "$RESULTS"
