#!/usr/bin/env bash
# fcpivot eval against an instant local endpoint (bench/eval_endpoint.c):
# rollouts/s with 256 requests in flight on the 200 sample rows (conversion,
# grading and writing included), and the runner's resident memory sampled
# over the run. EVAL_BENCH_ROLLOUTS sets the size (default 40,000; the
# long run of the README is EVAL_BENCH_ROLLOUTS=1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$FCPIVOT_BIN"
EP="$FCPIVOT_BUILD/bench/eval_endpoint"
N=${EVAL_BENCH_ROLLOUTS:-40000}
ROWS=$(grep -c . data/sample.jsonl)
K=$(( (N + ROWS - 1) / ROWS ))
OUT=bench/out/eval
rm -rf "$OUT"; mkdir -p "$OUT"

coproc ENDPOINT { "$EP"; }
read -r PORT <&"${ENDPOINT[0]}"
t0=$(date +%s.%N)
"$BIN" eval --data data/sample.jsonl -o "$OUT/m.jsonl" --model-url "http://127.0.0.1:$PORT/v1" \
    -c 256 --num-repeats "$K" --quiet > "$OUT/stdout.txt" 2> "$OUT/stderr.txt" &
PID=$!
: > "$OUT/rss.txt"
while kill -0 "$PID" 2> /dev/null; do
    awk -v t="$(date +%s.%N)" -v t0="$t0" '/^VmRSS/ { printf "%.1f %d\n", t - t0, $2 }' \
        "/proc/$PID/status" >> "$OUT/rss.txt" 2> /dev/null || true
    sleep 0.5
done
wait "$PID" || echo "  (fcpivot eval exited with status $?)"
t1=$(date +%s.%N)
exec {ENDPOINT[1]}>&-
wait "$ENDPOINT_PID" 2> /dev/null || true
total=$((K * ROWS))
graded=$(wc -l < "$OUT/m.jsonl")
awk -v n="$total" -v g="$graded" -v a="$t0" -v b="$t1" 'BEGIN {
    printf "fcpivot eval, %d rollouts (%d graded), -c 256, instant local endpoint: %.2f s, %.0f rollouts/s\n",
           n, g, b - a, n / (b - a) }'
awk 'NR == 1 { first = $2 } { n++; v[n] = $2; if ($2 > max) max = $2 }
     END { if (!n) exit
           printf "  runner RSS: %.1f MB after start, %.1f MB at 50%%, %.1f MB at 90%% of the run, max %.1f MB (%d samples)\n",
                  first / 1024, v[int(n / 2) + 1] / 1024, v[int(n * 0.9) + 1] / 1024, max / 1024, n }' "$OUT/rss.txt"
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
rm -f "$OUT"/m.jsonl "$OUT"/m_materialized_inputs.jsonl
