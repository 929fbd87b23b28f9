#!/usr/bin/env bash
# Dataset layer: open/index/validate speed and memory on synthetic files shaped
# like the real ones (9,620 rows of 10-40 KB) and on 1,000,000 small rows, plus
# `fcpivot validate` and `fcpivot stats` on the million-row file.
# Targets (file in page cache): open+index of the 9,620-row file < 100 ms;
# validation >= 200 MB/s on 2 threads; 1M rows indexed+validated < 5 s;
# resident memory <= 1.5x the file size.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FCPIVOT_BUILD:-build}
BIN=${FCPIVOT_BIN:-$BUILD/fcpivot}
mkdir -p bench/out
big=bench/out/ds-9620x10-40kb.jsonl
small=bench/out/ds-1m-small.jsonl
[ -s "$big" ] || scripts/gen-sample --rows 9620 --row-kb 10-40 --out "$big"
[ -s "$small" ] || scripts/gen-sample --rows 1000000 --row-kb 0.5 --out "$small"
# Warm the page cache so figures are about fcpivot, not the disk.
cat "$big" "$small" > /dev/null

echo "9,620 rows of 10-40 KB:"
"$BUILD/bench/ds_load" "$big" --threads 2 --repeat 3
"$BUILD/bench/ds_load" "$big" --threads 1 --repeat 1 | grep "validation alone" | sed 's/$/  [1 thread]/'
echo "1,000,000 small rows:"
"$BUILD/bench/ds_load" "$small" --threads 2 --repeat 2

t() {  # wall seconds of a command, output discarded
    local s e
    s=$(date +%s%N)
    "$@" > /dev/null
    e=$(date +%s%N)
    printf "%d.%02d" $(((e - s) / 1000000000)) $(((e - s) / 10000000 % 100))
}
echo "fcpivot on the 1,000,000-row file:"
echo "  fcpivot validate      $(t "$BIN" validate "$small") s"
echo "  fcpivot stats         $(t "$BIN" stats "$small") s"
