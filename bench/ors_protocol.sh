#!/usr/bin/env bash
# Protocol-layer figures without HTTP (bench/ors_protocol.c): on the sample
# dataset, then (when ../shared is present) on 2,000 large real rows, where
# every session's row is distinct from most others.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "-- data/sample.jsonl (200 small rows)"
"$FCPIVOT_BUILD/bench/ors_protocol" data/sample.jsonl 3
if [ -f ../shared/data/example.jsonl ]; then
    mkdir -p bench/out
    for _ in $(seq 400); do cat ../shared/data/example.jsonl; done > bench/out/ors_big.jsonl
    echo "-- ../shared example.jsonl x 400 (2,000 rows of ~28 KB)"
    "$FCPIVOT_BUILD/bench/ors_protocol" bench/out/ors_big.jsonl 3
    rm -f bench/out/ors_big.jsonl
fi
