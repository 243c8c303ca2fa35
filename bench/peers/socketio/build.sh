#!/usr/bin/env bash
# Builds the reference Socket.IO server (socket.io 4.8.3, engine.io 6.6.9, engine.io-parser, socket.io-parser,
# socket.io-adapter, @socket.io/component-emitter) from a socketio/socket.io monorepo snapshot for the
# `socketio` peer of bench/compare.sh. Nothing from that source is committed here (it is not ours to ship):
# the build goes to bench/peers/socketio/build/ (git-ignored), and the peer is optional, never part of CI.
#
#   bench/peers/socketio/build.sh SRC
#
# SRC is either a checked-out work tree of the monorepo (has packages/socket.io/package.json) or a bare git
# directory of it (e.g. a mirror of github.com/socketio/socket.io); from a git directory the packages are
# extracted file by file (`git ls-tree` + `git show`), because a snapshot may lack large test fixtures that
# stop `git archive` part way. No npm: TypeScript is Debian's node-typescript (tsc 4.8) and the runtime
# dependencies are Debian's node packages under /usr/share/nodejs (accepts, cookie, cors, debug, ws).
set -euo pipefail
SRC=${1:?usage: build.sh SRC (socketio/socket.io work tree or git directory)}
SRC=$(cd "$SRC" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/build}
PACKAGES=(socket.io engine.io engine.io-parser socket.io-parser socket.io-adapter socket.io-component-emitter)

missing=()
command -v tsc > /dev/null || missing+=(node-typescript)
for dep in accepts cookie cors debug ws; do
    [ -f "/usr/share/nodejs/$dep/package.json" ] || missing+=("node-$dep")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "needs Debian packages: apt-get install ${missing[*]}" >&2
    exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT/src" "$OUT/node_modules/@socket.io"

# --- the sources: packages/<name>/{package.json,tsconfig*.json,lib/**} -----------------------------------
if [ -f "$SRC/packages/socket.io/package.json" ]; then
    for p in "${PACKAGES[@]}"; do
        mkdir -p "$OUT/src/$p"
        cp -r "$SRC/packages/$p/lib" "$SRC/packages/$p/package.json" "$OUT/src/$p/"
        cp "$SRC/packages/$p"/tsconfig*.json "$OUT/src/$p/" 2>/dev/null || true
    done
elif git --git-dir="$SRC" rev-parse --verify -q HEAD > /dev/null; then
    for p in "${PACKAGES[@]}"; do
        git --git-dir="$SRC" ls-tree -r --name-only HEAD "packages/$p/" |
            grep -E "^packages/$p/(lib/|package\.json$|tsconfig[^/]*\.json$)" |
            while IFS= read -r path; do
                dest=$OUT/src/${path#packages/}
                mkdir -p "$(dirname "$dest")"
                git --git-dir="$SRC" show "HEAD:$path" > "$dest"
            done
    done
else
    echo "$SRC is neither a socketio/socket.io work tree nor its git directory" >&2
    exit 1
fi
for p in "${PACKAGES[@]}"; do
    [ -f "$OUT/src/$p/package.json" ] || { echo "$SRC has no packages/$p" >&2; exit 1; }
done

version() { node -p "require('$OUT/src/$1/package.json').version"; }
echo "socket.io $(version socket.io), engine.io $(version engine.io), engine.io-parser $(version engine.io-parser)," \
    "socket.io-parser $(version socket.io-parser), socket.io-adapter $(version socket.io-adapter)," \
    "component-emitter $(version socket.io-component-emitter)" | tee "$OUT/VERSIONS"

# --- resolution: the monorepo packages from build/node_modules, the rest from /usr/share/nodejs ----------
for p in socket.io engine.io engine.io-parser socket.io-parser socket.io-adapter; do
    ln -s "../src/$p" "$OUT/node_modules/$p"
done
ln -s ../../src/socket.io-component-emitter "$OUT/node_modules/@socket.io/component-emitter"
for dep in accepts cookie cors debug ws; do
    ln -s "/usr/share/nodejs/$dep" "$OUT/node_modules/$dep"
done

# --- compile: CommonJS per package with its own tsconfig. The only type errors are the missing @types/node
# (and @types/ws, @types/cors), so emit anyway and check the output loads instead. -------------------------
for p in engine.io-parser socket.io-parser socket.io-adapter engine.io socket.io; do
    echo "tsc $p" >&2
    (cd "$OUT/src/$p" && tsc -p tsconfig.json --noEmitOnError false --skipLibCheck > "$OUT/tsc-$p.log" 2>&1) || true
done
# The parsers' package.json point at build/cjs; their postcompile marks that folder as CommonJS.
for p in engine.io-parser socket.io-parser; do
    echo '{"type": "commonjs"}' > "$OUT/src/$p/build/cjs/package.json"
done

NODE_PATH=/usr/share/nodejs node -e "
const { Server } = require('$OUT/node_modules/socket.io');
const io = new Server(require('http').createServer());
io.close();
console.log('loads: socket.io', require('$OUT/node_modules/socket.io/package.json').version,
  '/ engine.io', require('$OUT/node_modules/engine.io').protocol === 4 ? 'EIO4' : '?');
"
echo "built in $OUT (run: NODE_PATH=/usr/share/nodejs node $HERE/server.js)"
