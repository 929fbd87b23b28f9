#!/usr/bin/env bash
# HTTP load on loopback against `fcpivot serve` (the sample dataset):
#  1. NeMo Gym /verify with wrk, 64 connections, ~10 s: requests/s, p50/p99.
#  2. complete ORS episodes (create_session → create → task_tools → prompt →
#     call → delete) from bench_episodes, 256 concurrent sessions, ~10 s.
#  3. 10,000 concurrent idle sessions held: server RSS and errors.
# (Also GET /health with wrk: what the HTTP adapter alone can do.)
# Targets on a 2-core machine (load generators included): /verify ≥ 50,000
# req/s with p99 < 5 ms; ≥ 5,000 episodes/s; 10,000 idle sessions < 200 MB.
# Figures only; nothing is asserted. Env: BENCH_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
BIN=${FCPIVOT_BIN:-build/fcpivot}
BUILD=${FCPIVOT_BUILD:-build}
SECS=${BENCH_SECONDS:-10}
OUT=bench/out
mkdir -p "$OUT"

if ! command -v wrk >/dev/null; then
    echo "30-http: wrk not installed (scripts/install-deps); skipped"
    exit 0
fi

# A /verify body from the sample: the first function-call row, answered with
# its expected call (reward 1), so every request runs the full comparison.
python3 - data/sample.jsonl > "$OUT/verify-body.json" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    ea = row["expected_action"]
    if ea["type"] == "function_call":
        row["response"] = {"output": [{"type": "function_call", "call_id": "c1",
                                       "name": ea["name"], "arguments": ea["arguments"]}]}
        print(json.dumps(row))
        break
EOF
wrk_post_lua "$(cd "$OUT" && pwd)/verify-body.json" "$OUT/verify.lua"

"$BIN" serve --quiet --port 0 --idle-timeout 0 >"$OUT/serve.out" 2>"$OUT/serve.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 300); do
    PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$OUT/serve.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "30-http: the server did not start:"; cat "$OUT/serve.err"; exit 0
fi
echo "server: $(head -1 "$OUT/serve.out")"

curl -s -o /dev/null -w "sanity: /verify -> HTTP %{http_code}\n" -X POST \
    -H 'Content-Type: application/json' --data-binary @"$OUT/verify-body.json" \
    "http://127.0.0.1:$PORT/verify"

wrk -t2 -c64 -d"${SECS}s" --latency -s "$OUT/verify.lua" "http://127.0.0.1:$PORT/verify" \
    >"$OUT/wrk-verify.txt" 2>&1 || true
RPS=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-verify.txt")
P50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk-verify.txt")
P99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-verify.txt")
NON2XX=$(awk '/Non-2xx/ {print $NF}' "$OUT/wrk-verify.txt")
ERRS=$(awk '/Socket errors/ {print}' "$OUT/wrk-verify.txt")
echo "/verify (wrk, 64 connections, ${SECS} s): ${RPS:-?} requests/s, p50 ${P50:-?}, p99 ${P99:-?}," \
     "non-2xx ${NON2XX:-0}${ERRS:+; $ERRS}"

# The adapter's own ceiling, for comparison: GET /health does no work.
wrk -t2 -c64 -d"$(( SECS / 2 > 0 ? SECS / 2 : 1 ))s" --latency "http://127.0.0.1:$PORT/health" \
    >"$OUT/wrk-health.txt" 2>&1 || true
echo "/health (wrk, 64 connections, reference): $(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk-health.txt")" \
     "requests/s, p50 $(awk '$1 == "50%" {print $2}' "$OUT/wrk-health.txt")," \
     "p99 $(awk '$1 == "99%" {print $2}' "$OUT/wrk-health.txt")"

"$BUILD/bench/bench_episodes" --port "$PORT" --pid "$PID" --seconds "$SECS" \
    --concurrency 256 --idle 10000 || echo "30-http: bench_episodes failed"

kill -TERM $PID
wait $PID && echo "server: clean exit 0 after SIGTERM" || echo "server: exit status $?"
trap - EXIT
