#!/usr/bin/env bash
# /ENV/tasks on large splits: 300,000 rows of 2 KB and 1,000,000 rows of
# 0.5 KB (scripts/gen-sample --rows N), listed straight from the rows.
#  1. in-process (bench/tasks_list): best time of the full list, reply size,
#     the request's extra peak memory against the reply, a 1,000-task range;
#  2. over HTTP (curl on loopback against `fcpivot serve`): the time of one
#     request, then 8 concurrent ones, and the server's resident memory
#     before and at its peak (VmHWM).
# Targets: 300,000 rows well under a second; a request needs at most about
# twice its reply in extra memory. Figures only; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FCPIVOT_BIN:-build/fcpivot}
BUILD=${FCPIVOT_BUILD:-build}
OUT=bench/out
mkdir -p "$OUT"
f300=$OUT/ds-300k.jsonl
f1m=$OUT/ds-1m-small.jsonl
[ -s "$f300" ] || scripts/gen-sample --rows 300000 --row-kb 2 --out "$f300"
[ -s "$f1m" ] || scripts/gen-sample --rows 1000000 --row-kb 0.5 --out "$f1m"

kb() {  # a /proc status field of pid $1, in kB
    awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"
}

for f in "$f300" "$f1m"; do
    cat "$f" > /dev/null                          # page cache, as when serving
    echo "$(basename "$f"):"
    "$BUILD/bench/tasks_list" "$f" --repeat 3
    log=$(mktemp)
    "$BIN" serve --quiet --port 0 --data "$f" > "$log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do grep -q "http://" "$log" && break; sleep 0.1; done
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    url=http://127.0.0.1:$port/nemotron-fc-pivot/tasks
    before=$(kb "$pid" VmRSS)
    one=$(curl -s -o /dev/null -w "%{time_total} %{size_download}" -X POST "$url" -d '{"split":"train"}')
    start=$(date +%s%N)
    pids=()
    for _ in $(seq 8); do
        curl -s -o /dev/null -X POST "$url" -d '{"split":"train"}' &
        pids+=($!)
    done
    wait "${pids[@]}"
    end=$(date +%s%N)
    peak=$(kb "$pid" VmHWM)
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
    read -r secs bytes <<< "$one"
    awk -v s="$secs" -v b="$bytes" -v c="$(( (end - start) / 1000000 ))" -v r0="$before" -v hwm="$peak" 'BEGIN {
        printf "  over HTTP: one request %.3f s (%.1f MB); 8 concurrent %.3f s; server RSS %d MB before, peak %d MB (+%.1fx the reply)\n",
               s, b / 1e6, c / 1e3, r0 / 1024, hwm / 1024, (hwm - r0) * 1024 / b }'
done
