#!/usr/bin/env bash
# fcpivot eval against an instant local endpoint (bench/eval_endpoint.c):
# rollouts/s with 256 requests in flight on the 200 sample rows (conversion,
# grading and writing included), and the runner's resident memory sampled
# over the run, while sending and at the end (the sorted rewrite, summary and
# aggregate keep a few numbers per rollout). EVAL_BENCH_ROLLOUTS sets the size
# (default 40,000; the long run of the README is EVAL_BENCH_ROLLOUTS=1000000).
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
# Samples: seconds, RSS (kB), size of the rollouts file (growing while sending).
while kill -0 "$PID" 2> /dev/null; do
    size=$(stat -c %s "$OUT/m.jsonl" 2> /dev/null || echo 0)
    awk -v t="$(date +%s.%N)" -v t0="$t0" -v sz="$size" '/^VmRSS/ { printf "%.1f %d %s\n", t - t0, $2, sz }' \
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
# Sending: the samples where the rollouts file grew; after the last of
# them, the end of the run (sorted rewrite, summary, aggregate).
awk -v n="$total" '
    { if ($3 > last) { if (!s0) s0 = $1; s1 = $1; sn++; if ($2 > smax) smax = $2; if (!smin || $2 < smin) smin = $2;
                       v[sn] = $2 }
      else if (s1 && $1 > s1 && $2 > emax) emax = $2
      last = $3 }
    END { if (!sn) exit
          printf "  while sending (%.0f s, about %.0f rollouts/s): runner RSS %.1f MB at first, %.1f MB at half-way, %.1f MB at most\n",
                 s1 - s0, (s1 > s0) ? n / (s1 - s0) : 0, v[1] / 1024, v[int(sn / 2) + 1] / 1024, smax / 1024
          if (emax) printf "  end of the run (sorted rewrite, summary, aggregate): RSS at most %.1f MB\n", emax / 1024 }' "$OUT/rss.txt"
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
rm -f "$OUT"/m.jsonl "$OUT"/m_materialized_inputs.jsonl
