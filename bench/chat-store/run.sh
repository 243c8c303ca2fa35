#!/usr/bin/env bash
# Runs ChatStoreBench on an SQLite file and on a throwaway PostgreSQL cluster (default settings: fsync on).
# Usage: bench/chat-store/run.sh [messages]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
COUNT=${1:-5000}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DIR=$(mktemp -d)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
as_pg "$BIN/initdb" -D "$DIR/data" -U herald --auth=trust -E UTF8 >/dev/null
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U herald -d postgres -qc 'CREATE DATABASE bench'

swift build -c release --product ChatStoreBench
.build/release/ChatStoreBench "sqlite://$DIR/bench.sqlite" "$COUNT"
.build/release/ChatStoreBench "postgres://herald@127.0.0.1:$PORT/bench" "$COUNT"
