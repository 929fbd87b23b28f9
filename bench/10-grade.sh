#!/usr/bin/env bash
# Grader throughput: pure verdicts/s (bench_grade), then end-to-end
# `fcpivot grade --verdict-only` lines/s on generated verify requests with
# --jobs 1 and --jobs 2, next to the jansson-parse-only floor.
set -euo pipefail
cd "$(dirname "$0")/.."
B="$FCPIVOT_BUILD/bench/bench_grade"
BIN="$FCPIVOT_BIN"
N=${GRADE_BENCH_LINES:-20000}
REQ=bench/out/grade-requests.jsonl

"$B"

[ -s "$REQ" ] && [ "$(wc -l < "$REQ")" -eq "$N" ] || "$B" --emit "$N" > "$REQ"
size=$(du -m "$REQ" | cut -f1)
echo "fcpivot grade --verdict-only on $N generated requests (${size} MB):"
"$B" --parse "$REQ"
for jobs in 1 2; do
    "$BIN" grade --verdict-only --jobs $jobs "$REQ" > /dev/null   # warm the page cache
    t0=$(date +%s.%N)
    "$BIN" grade --verdict-only --jobs $jobs "$REQ" > /dev/null
    t1=$(date +%s.%N)
    awk -v n="$N" -v a="$t0" -v b="$t1" -v j="$jobs" \
        'BEGIN { printf "  %-34s %10.0f lines/s  (%.2f s)\n", "fcpivot grade --jobs " j, n / (b - a), b - a }'
done
