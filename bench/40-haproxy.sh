#!/usr/bin/env bash
# Scale-out through HAProxy (deploy/run-local): complete ORS episodes/s with
# bench_episodes (256 concurrent sessions, ~BENCH_SECONDS s) through HAProxy
# to 3 replicas (one thread each), against one of those replicas directly,
# and against a single stand-alone `fcpivot serve` (all cores). On one 2-core
# machine everything (load generator, HAProxy, replicas) shares the same
# cores, so this shows the proxy's cost more than the replicas' gain.
# Figures only; nothing is asserted. Skipped when haproxy is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FCPIVOT_BIN:-build/fcpivot}
BUILD=${FCPIVOT_BUILD:-build}
SECS=${BENCH_SECONDS:-10}
OUT=bench/out
mkdir -p "$OUT"
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
    echo "40-haproxy: haproxy not installed (scripts/install-deps); skipped"
    exit 0
fi
export PATH="$PATH:/usr/sbin"

deploy/run-local 3 --port 0 --bin "$BIN" -- --threads 1 >"$OUT/run-local.out" 2>"$OUT/run-local.err" &
RL=$!
trap 'kill -TERM $RL 2>/dev/null || true; wait $RL 2>/dev/null || true' EXIT
for _ in $(seq 300); do
    grep -qx ready "$OUT/run-local.out" 2>/dev/null && break
    kill -0 $RL 2>/dev/null || break
    sleep 0.1
done
if ! grep -qx ready "$OUT/run-local.out"; then
    echo "40-haproxy: run-local did not start:"; cat "$OUT/run-local.err"; exit 0
fi
FRONT=$(sed -n 's|^front-end http://127.0.0.1:\([0-9]*\)$|\1|p' "$OUT/run-local.out")
R1=$(sed -n 's|^replica 1 pid [0-9]* http://127.0.0.1:\([0-9]*\)$|\1|p' "$OUT/run-local.out")
echo "3 replicas (--threads 1 each) behind HAProxy on port $FRONT"
echo -n "through HAProxy:     "
"$BUILD/bench/bench_episodes" --port "$FRONT" --seconds "$SECS" --concurrency 256 ||
    echo "40-haproxy: bench_episodes failed"
echo -n "one replica direct:  "
"$BUILD/bench/bench_episodes" --port "$R1" --seconds "$SECS" --concurrency 256 ||
    echo "40-haproxy: bench_episodes failed"
kill -TERM $RL 2>/dev/null || true
wait $RL 2>/dev/null || true
trap - EXIT

"$BIN" serve --quiet --port 0 >"$OUT/serve-one.out" 2>"$OUT/serve-one.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 300); do
    PORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$OUT/serve-one.out")
    [ -n "$PORT" ] && break
    sleep 0.1
done
echo -n "single fcpivot serve: "
"$BUILD/bench/bench_episodes" --port "$PORT" --seconds "$SECS" --concurrency 256 ||
    echo "40-haproxy: bench_episodes failed"
kill -TERM $PID
wait $PID || true
trap - EXIT
