#!/usr/bin/env bash
# Speed against references, side by side in one run (`make bench-speed`, or
# part of `make bench`):
#  1. `fcpivot grade --verdict-only` (one thread) against the Python model of
#     the grader (tests/oracle/grade_oracle.py: json.loads per line, then the
#     comparison), both reading the same file on stdin, end to end, on
#     (a) small requests (bench_grade --emit, ~10 KB) and (b) real-size ones
#     (bench/gen_requests.py, 27-64 KB per line like recorded rollouts).
#     Best of SPEED_ROUNDS (5) of CPU time (user + sys: what the load of other
#     processes disturbs least) and of wall time, the two taking turns so that
#     both meet the same load; the ratio Python / fcpivot of each.
#  2. POST /verify with a ~27 KB body, fcpivot serve against nginx answering
#     a file of the same size to the same POST (as many nginx workers as
#     fcpivot threads; wrk, same threads and connections, two rounds each,
#     interleaved): requests/s and fcpivot's share of nginx's, the ceiling
#     of an HTTP server on this machine.
# Targets (issue 12): ≥ 10x Python on both sizes; /verify ≥ 50% of nginx.
# Figures only; nothing is asserted. Env: BENCH_SECONDS (wrk, default 10),
# SPEED_SMALL_LINES (default 5000), SPEED_LARGE_LINES (default 1500),
# SPEED_ROUNDS (default 5), SPEED_PARTS (which parts to run: "1 2" by
# default, "2" for /verify against nginx alone).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
BIN=${FCPIVOT_BIN:-build/fcpivot}
BUILD=${FCPIVOT_BUILD:-build}
SECS=${BENCH_SECONDS:-10}
OUT=bench/out
SMALL_N=${SPEED_SMALL_LINES:-5000}
LARGE_N=${SPEED_LARGE_LINES:-1500}
ROUNDS=${SPEED_ROUNDS:-5}       # timed runs of each grader, taking turns
PARTS=${SPEED_PARTS:-1 2}
part() { [[ " $PARTS " == *" $1 "* ]]; }
VERIFY_BODY_MIN=27000        # bytes of the /verify body, at least
mkdir -p "$OUT"

if ! command -v python3 >/dev/null; then
    echo "15-speed: python3 not installed; skipped"
    exit 0
fi

# ---- 1. fcpivot grade against Python ------------------------------------------

lines() { [ -s "$1" ] && wc -l < "$1" || echo 0; }
SMALL=$OUT/speed-small.jsonl
LARGE=$OUT/speed-large.jsonl
[ "$(lines "$SMALL")" -eq "$SMALL_N" ] || "$BUILD/bench/bench_grade" --emit "$SMALL_N" > "$SMALL"
[ "$(lines "$LARGE")" -eq "$LARGE_N" ] ||
    python3 bench/gen_requests.py data/sample.jsonl "$LARGE_N" > "$LARGE"

# timed IN CMD...: "wall cpu" seconds of one run of CMD with IN on stdin
# (bash's time: real, user + sys).
timed() {
    local in=$1 t
    shift
    t=$( { TIMEFORMAT='%R %U %S'; time "$@" < "$in" > /dev/null 2>/dev/null; } 2>&1 | tail -1)
    awk -v t="$t" 'BEGIN { split(t, a, " "); print a[1], a[2] + a[3] }'
}

# best_interleaved IN: "c_wall c_cpu py_wall py_cpu", each the best of ROUNDS
# runs, fcpivot and Python taking turns so that both see the same moments of
# the machine's load (a quiet spell helps neither more than the other).
best_interleaved() {
    local in=$1 c py best=""
    "$BIN" grade --verdict-only --jobs 1 < "$in" > /dev/null 2>&1 || true   # warm the page cache
    for _ in $(seq "$ROUNDS"); do
        c=$(timed "$in" "$BIN" grade --verdict-only --jobs 1)
        py=$(timed "$in" python3 tests/oracle/grade_oracle.py)
        best=$(awk -v c="$c" -v py="$py" -v best="$best" 'BEGIN {
            split(c " " py, n, " ")
            if (best != "") { split(best, o, " "); for (i = 1; i <= 4; i++) if (o[i] < n[i]) n[i] = o[i] }
            print n[1], n[2], n[3], n[4] }')
    done
    echo "$best"
}

compare_grade() {
    local label=$1 file=$2
    local mb n c py same cw cc pw pc
    mb=$(awk -v b="$(wc -c < "$file")" 'BEGIN { printf "%.1f", b / 1e6 }')
    n=$(wc -l < "$file")
    python3 tests/oracle/grade_oracle.py < "$file" > "$OUT/speed-python.out"
    "$BIN" grade --verdict-only --jobs 1 < "$file" > "$OUT/speed-c.out" || true
    same=$(paste -d'\n' "$OUT/speed-python.out" "$OUT/speed-c.out" |
           awk 'NR%2{a=$0; next} a==$0{n++} END{print n+0}')
    read -r cw cc pw pc <<< "$(best_interleaved "$file")"
    c="$cw $cc" py="$pw $pc"
    echo "$label: $n requests, $mb MB (verdicts agreeing: $same / $n)"
    awk -v c="$c" -v py="$py" -v mb="$mb" 'BEGIN {
        split(c, a, " "); split(py, b, " ")
        printf "  %-40s %7.3f s CPU %7.0f MB/s   %7.3f s wall\n", "fcpivot grade --verdict-only --jobs 1", a[2], mb / a[2], a[1]
        printf "  %-40s %7.3f s CPU %7.0f MB/s   %7.3f s wall\n", "Python (grade_oracle.py)", b[2], mb / b[2], b[1]
        printf "  %-40s %7.1fx CPU              %7.1fx wall\n", "ratio Python / fcpivot", b[2] / a[2], b[1] / a[1] }'
}

if part 1; then
    echo "grading end to end, one thread each, best of $ROUNDS, taking turns (target: >= 10x Python):"
    compare_grade "(a) small requests (bench_grade --emit)" "$SMALL"
    compare_grade "(b) real-size requests (bench/gen_requests.py, 27-64 KB)" "$LARGE"
    echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
fi
part 2 || exit 0

# ---- 2. /verify against nginx --------------------------------------------------

command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
command -v nginx >/dev/null || scripts/install-deps || true   # Debian's nginx, if missing
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
    echo "15-speed: wrk or nginx not installed (scripts/install-deps); /verify part skipped"
    exit 0
fi
BODY=$(cd "$OUT" && pwd)/speed-verify-body.json
awk -v min="$VERIFY_BODY_MIN" 'length($0) >= min && (best == "" || length($0) < length(best)) { best = $0 }
     END { print best }' "$LARGE" > "$BODY"
SIZE=$(( $(wc -c < "$BODY") - 1 ))
truncate -s "$SIZE" "$BODY"   # no newline: the body is the JSON text
wrk_post_lua "$BODY" "$OUT/speed-verify.lua"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# nginx: as many workers as fcpivot has threads (its default, two per core,
# given to both explicitly), the body kept
# in memory, the reply a static file of the body's size (a POST to a static
# file is a 405, turned into the file by error_page).
NG=$(cd "$OUT" && pwd)/speed-nginx
THREADS=$(( 2 * $(nproc) ))
mkdir -p "$NG/www" "$NG/logs"
cp "$BODY" "$NG/www/verify"
NGPORT=$(free_port)
cat > "$NG/nginx.conf" <<EOF
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes $THREADS;
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    client_body_buffer_size 128k;
    client_max_body_size 16m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGPORT;
        root $NG/www;
        location = /verify { error_page 405 =200 \$uri; }
    }
}
EOF

"$BIN" serve --quiet --port 0 --idle-timeout 0 --threads "$THREADS" >"$OUT/speed-serve.out" 2>"$OUT/speed-serve.err" &
FC=$!
nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" 2>>"$NG/logs/error.log" &
NGPID=$!
trap 'kill -TERM $FC $NGPID 2>/dev/null || true' EXIT
FCPORT=""
for _ in $(seq 300); do
    FCPORT=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$OUT/speed-serve.out")
    [ -n "$FCPORT" ] && curl -s -o /dev/null "http://127.0.0.1:$NGPORT/verify" && break
    sleep 0.1
done
check() {
    curl -s -o /dev/null -w "%{http_code} %{size_download}" -X POST -H 'Content-Type: application/json' \
        --data-binary @"$BODY" "http://127.0.0.1:$1/verify" || echo "none"
}
echo "POST /verify, a $SIZE-byte body, $THREADS threads / workers each: fcpivot answers $(check "$FCPORT") bytes," \
     "nginx $(check "$NGPORT") bytes (status, size)"

rps() {
    wrk -t2 -c64 -d"${SECS}s" -s "$OUT/speed-verify.lua" "http://127.0.0.1:$1/verify" \
        > "$OUT/speed-wrk-$2.txt" 2>&1 || true
    awk '/^Requests\/sec/ {print $2}' "$OUT/speed-wrk-$2.txt"
}
best=("" "")
for round in 1 2; do
    f=$(rps "$FCPORT" "fcpivot-$round")
    n=$(rps "$NGPORT" "nginx-$round")
    echo "  round $round (wrk -t2 -c64, ${SECS} s): fcpivot ${f:-?} req/s, nginx ${n:-?} req/s"
    best[0]=$(awk -v a="${best[0]}" -v b="${f:-0}" 'BEGIN { print (a == "" || b > a) ? b : a }')
    best[1]=$(awk -v a="${best[1]}" -v b="${n:-0}" 'BEGIN { print (a == "" || b > a) ? b : a }')
done
awk -v f="${best[0]}" -v n="${best[1]}" 'BEGIN {
    printf "  best: fcpivot %.0f req/s = %.0f%% of nginx (%.0f req/s); target >= 50%%\n", f, (n > 0 ? 100 * f / n : 0), n }'
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"

kill -TERM "$FC" "$NGPID" 2>/dev/null || true
wait "$FC" 2>/dev/null || true
wait "$NGPID" 2>/dev/null || true
trap - EXIT
