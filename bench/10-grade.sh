#!/usr/bin/env bash
# Grader throughput: pure verdicts/s (bench_grade), the same mix through the
# Python model of docs/grading.md (tests/oracle/grade_oracle.py: speed and verdict
# agreement), then
# end-to-end `fcpivot grade --verdict-only` lines/s on generated verify
# requests with --jobs 1 and --jobs 2, next to jansson parsing whole lines.
set -euo pipefail
cd "$(dirname "$0")/.."
B="$FCPIVOT_BUILD/bench/bench_grade"
BIN="$FCPIVOT_BIN"
N=${GRADE_BENCH_LINES:-20000}
REQ=bench/out/grade-requests.jsonl
SMALL=bench/out/grade-requests-3k.jsonl

"$B"

[ -s "$REQ" ] && [ "$(wc -l < "$REQ")" -eq "$N" ] || "$B" --emit "$N" > "$REQ"
head -n 3000 "$REQ" > "$SMALL"
if command -v python3 > /dev/null; then
    echo "same mix, Python model of docs/grading.md (tests/oracle/grade_oracle.py):"
    python3 tests/oracle/grade_oracle.py --speed < "$SMALL"
    python3 tests/oracle/grade_oracle.py < "$SMALL" > bench/out/grade-python.jsonl
    "$BIN" grade --verdict-only "$SMALL" > bench/out/grade-c.jsonl || true
    same=$(paste -d'\n' bench/out/grade-python.jsonl bench/out/grade-c.jsonl | awk 'NR%2{a=$0; next} a==$0{n++} END{print n+0}')
    echo "  verdicts agreeing with fcpivot grade: $same / $(wc -l < "$SMALL")"
fi

size=$(du -m "$REQ" | cut -f1)
echo "fcpivot grade --verdict-only on $N generated requests (${size} MB, wall clock):"
"$B" --parse "$REQ"
for jobs in 1 2; do
    "$BIN" grade --verdict-only --jobs $jobs "$REQ" > /dev/null   # warm the page cache
    best=""
    for run in 1 2 3; do   # best of 3: the machine is shared
        t0=$(date +%s.%N)
        "$BIN" grade --verdict-only --jobs $jobs "$REQ" > /dev/null
        t1=$(date +%s.%N)
        best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { t = b - a; print (best == "" || t < best) ? t : best }')
    done
    awk -v n="$N" -v t="$best" -v j="$jobs" \
        'BEGIN { printf "  %-34s %10.0f lines/s  (%.2f s, best of 3)\n", "fcpivot grade --jobs " j, n / t, t }'
done
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"

if command -v python3 > /dev/null; then
    ADV=bench/out/grade-adversarial.jsonl
    python3 tests/oracle/gen_adversarial.py 7 5000 > "$ADV"
    echo "adversarial inputs (tests/oracle/gen_adversarial.py), verdicts agreeing with the Python model:"
    for cfg in "" "--parallel-rewarding --allow-subset --reward-mode fractional" \
               "--parallel-rewarding --allow-superset --reward-mode f1"; do
        # shellcheck disable=SC2086
        python3 tests/oracle/grade_oracle.py $cfg < "$ADV" > bench/out/adv-python.jsonl
        # shellcheck disable=SC2086
        "$BIN" grade --verdict-only $cfg "$ADV" > bench/out/adv-c.jsonl || true
        same=$(paste -d'\n' bench/out/adv-python.jsonl bench/out/adv-c.jsonl | awk 'NR%2{a=$0; next} a==$0{n++} END{print n+0}')
        printf "  %-60s %s / %s\n" "${cfg:-defaults}" "$same" "$(wc -l < "$ADV")"
    done
fi
