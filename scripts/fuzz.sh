#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (docs/security.md, "Fuzzing").
#   scripts/fuzz.sh TARGET SECONDS     one target (json socketio engineio websocket upgrade resp publish roomrule)
#   scripts/fuzz.sh all SECONDS        every target, SECONDS each, one after the other
# Builds Fuzz/HeraldFuzz with -sanitize=fuzzer,address into .build-fuzz (never touching .build), runs libFuzzer
# on a scratch copy of Fuzz/corpus/TARGET, prints executions and crashes per target, exits non-zero on a crash.
# Crashing inputs are kept in .build-fuzz/artifacts/. FUZZ_CONFIG=release builds optimised (slower build,
# faster fuzzing); FUZZ_RSS_MB (default 2048) bounds the fuzzer's memory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGETS=(json socketio engineio websocket upgrade resp publish roomrule)
CONFIG=${FUZZ_CONFIG:-debug}
RSS_MB=${FUZZ_RSS_MB:-2048}
SCRATCH=.build-fuzz
ARTIFACTS=$ROOT/$SCRATCH/artifacts

usage() { echo "usage: $0 {all|${TARGETS[*]// /|}} SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
[[ $2 =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ] || usage
SECONDS_PER_TARGET=$2
if [ "$1" = all ]; then
    selected=("${TARGETS[@]}")
else
    [[ " ${TARGETS[*]} " == *" $1 "* ]] || usage
    selected=("$1")
fi

# Longest input per target: room for several frames or packets, and past the fast path's 4 KiB head limit.
max_len() {
    case $1 in
        upgrade) echo 5000 ;;
        websocket | resp | roomrule) echo 2048 ;;
        *) echo 4096 ;;
    esac
}

if [ "$(uname -s)" != Linux ]; then
    echo "error: fuzzing needs the Linux toolchain's libFuzzer (swiftc -sanitize=fuzzer)" >&2
    exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

BUILD_START=$SECONDS
echo "building HeraldFuzz ($CONFIG, -sanitize=fuzzer,address) into $SCRATCH"
build_status=0
HERALD_FUZZ=1 swift build -c "$CONFIG" --product HeraldFuzz --scratch-path "$SCRATCH" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >"$WORK/build.log" 2>&1 || build_status=$?
# ld.gold warns "Cannot export local symbol" for every ASan helper: harmless, left out.
if [ "$build_status" -ne 0 ]; then
    grep -v "Cannot export local symbol" "$WORK/build.log" | tail -n 60 >&2
    echo "error: the fuzz build failed" >&2
    exit 1
fi
BIN=$SCRATCH/$CONFIG/HeraldFuzz
echo "built in $((SECONDS - BUILD_START)) s"

mkdir -p "$ARTIFACTS"
failed=()
summary=()
for target in "${selected[@]}"; do
    corpus=$WORK/$target
    mkdir -p "$corpus"
    cp Fuzz/corpus/"$target"/* "$corpus"/
    args=(-max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -max_len="$(max_len "$target")" -timeout=10
          -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target-")
    [ -f Fuzz/dict/"$target".dict ] && args+=(-dict=Fuzz/dict/"$target".dict)
    log=$WORK/$target.log
    echo "== $target: ${SECONDS_PER_TARGET} s"
    status=0
    # SWIFT_BACKTRACE: the Swift runtime's backtracer would run under ASan after an abort and muddle the report.
    HERALD_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no "$BIN" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 || true)
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        # The property that failed, or the sanitizer report, and the saved input.
        grep -E "fuzz property violated|ERROR: |SUMMARY: |Fatal error|Test unit written to" "$log" | head -n 20 || tail -n 40 "$log"
        summary+=("$target: ${executions:-?} executions, CRASH (exit $status), inputs in $ARTIFACTS")
    else
        summary+=("$target: ${executions:-?} executions, 0 crashes, ${coverage:-cov: ?}, $(ls "$corpus" | wc -l) corpus inputs")
    fi
    echo "${summary[-1]}"
done

echo
echo "fuzz summary (${SECONDS_PER_TARGET} s per target):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: crashes in: ${failed[*]}" >&2
    exit 1
fi
