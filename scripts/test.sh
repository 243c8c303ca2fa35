#!/usr/bin/env bash
# The one test command: installs what the tests need if missing, builds everything, runs every suite.
# Used by developers and CI (.ci/run). Idempotent; a second run only rebuilds what changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/Tests/python/requirements.txt"
START=$SECONDS

section() { printf '\n==== %s ====\n' "$*"; }

APT_UPDATED=0
apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: need Debian packages: $* (run as root, or install them)" >&2
        exit 1
    fi
    if [ "$APT_UPDATED" -eq 0 ]; then
        apt-get update
        APT_UPDATED=1
    fi
    # The tests start their own redis-server and nginx on free ports: keep the packages' services from
    # starting (Debian's policy-rc.d mechanism; an existing policy, as in containers, is left alone).
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        own_policy=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" || status=$?
    if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi
    return "$status"
}

section "System packages"
if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-venv
fi
# Debian splits venv/ensurepip into python3-venv; a pyenv Python has it built in.
# Probe in a scratch dir so a broken probe never leaves a half-made .venv behind.
PROBE=$(mktemp -d)
if ! python3 -m venv "$PROBE/venv" >/dev/null 2>&1; then
    apt_install python3-venv
fi
rm -rf "$PROBE"
echo "python3: $(command -v python3) ($(python3 --version 2>&1))"

# The cluster tests run real Redis and nginx (Tests/HeraldTests/ClusterLive*.swift); Debian puts nginx in /usr/sbin.
if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx
fi
# The demo's browser tests drive headless Chromium through chromedriver (Tests/python/demo_browser.py).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt_install chromium chromium-driver
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo '?'), $(/usr/bin/chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
echo "redis-server: $(command -v redis-server) ($(redis-server --version | cut -d' ' -f3))"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
echo "nginx: $NGINX ($("$NGINX" -v 2>&1))"

section "Python test clients (.venv)"
# Recreate the venv when its interpreter is gone (e.g. made by a Python that was since removed).
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "stale .venv, recreating"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# Reinstall only when the requirements changed since the last successful install.
STAMP="$VENV/.herald-requirements"
if ! cmp -s "$REQUIREMENTS" "$STAMP"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$STAMP"
fi
"$VENV/bin/python" - <<'PY'
import importlib.metadata as m
for name in ("python-socketio", "python-engineio", "aiohttp", "websocket-client", "requests", "selenium"):
    print(f"{name} {m.version(name)}")
PY
export HERALD_TEST_PYTHON="$VENV/bin/python"

section "Official JavaScript client (socket.io-client)"
# The official socket.io-client browser bundle (v4.8.1, MIT) as shipped inside the nicegui wheel on PyPI:
# downloaded here, never committed (.official-clients/ is git-ignored). The tests run it in headless Chromium.
NICEGUI_VERSION=3.18.0
OFFICIAL_CLIENTS="$ROOT/.official-clients"
SOCKETIO_JS="$OFFICIAL_CLIENTS/socket.io.min.js"
if ! head -c 200 "$SOCKETIO_JS" 2>/dev/null | grep -q "Socket.IO v4.8.1"; then
    mkdir -p "$OFFICIAL_CLIENTS"
    WHEELS=$(mktemp -d)
    "$VENV/bin/python" -m pip download --disable-pip-version-check --quiet --no-deps "nicegui==$NICEGUI_VERSION" -d "$WHEELS"
    "$VENV/bin/python" - "$WHEELS/nicegui-$NICEGUI_VERSION-py3-none-any.whl" "$SOCKETIO_JS" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("nicegui/static/socket.io.min.js"))
PY
    rm -rf "$WHEELS"
fi
head -c 200 "$SOCKETIO_JS" | grep -q "Socket.IO v4.8.1" || { echo "error: $SOCKETIO_JS is not socket.io-client 4.8.1" >&2; exit 1; }
echo "socket.io-client: $SOCKETIO_JS ($(head -c 200 "$SOCKETIO_JS" | grep -o 'Socket.IO v[0-9.]*'), from nicegui $NICEGUI_VERSION)"
export HERALD_SOCKETIO_JS="$SOCKETIO_JS"

section "PostgreSQL (chat store tests)"
# The tests start their own throwaway clusters (initdb + pg_ctl on a free port, as the postgres OS user when
# root); they only need the server binaries. Installed only when missing.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/pg_ctl" ]; then
    apt_install postgresql
fi
HERALD_PG_BIN=$(pg_bin)
if [ ! -x "$HERALD_PG_BIN/initdb" ]; then
    echo "error: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "error: running as root but there is no postgres OS user to run the test clusters" >&2
    exit 1
fi
export HERALD_PG_BIN
echo "postgresql: $HERALD_PG_BIN ($("$HERALD_PG_BIN/postgres" --version))"

section "Build (all targets and tests)"
swift build --build-tests
# The examples are executables that nothing else links; build them by name so a break shows here.
for example in Examples/*/; do
    product=$(basename "$example")
    if grep -q "name: \"$product\"" Package.swift; then
        echo "-- example $product"
        swift build --product "$product"
    fi
done

section "Tests (swift test, all suites)"
# One suite at a time: the live suites start servers (redis, nginx, herald nodes, python clients) and, run
# together on a 2-core machine, they starve each other's heartbeats and bounded waits.
swift test --skip-build --no-parallel

section "Consumer package (Examples/EmbeddingHerald)"
# A package that uses the library products by path, as a user's would; built after the tests, in the same
# scratch path, so only its own code compiles (the root package's modules are reused; --skip-update keeps the
# second resolution to the local copies already fetched), then run once end to end.
(cd Examples/EmbeddingHerald && swift build --skip-update --scratch-path "$ROOT/.build")
timeout 120 "$ROOT/.build/debug/EmbeddingHerald" --once

section "Fuzzing (libFuzzer, every target briefly)"
# A short coverage-guided run of every parser from its seed corpus (docs/security.md, "Fuzzing"); long runs are
# by hand. The sanitizer build has its own scratch path (.build-fuzz), apart from the build above.
scripts/fuzz.sh all "${HERALD_FUZZ_SECONDS:-10}"

section "Done in $((SECONDS - START)) s"
