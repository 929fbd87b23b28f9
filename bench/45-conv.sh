#!/usr/bin/env bash
# Conversion throughput of `fcpivot eval` (src/conv.h) on the sample rows:
# Responses params -> Chat Completions body, and a tool-call completion ->
# Responses object (bench_conv). One core.
set -euo pipefail
cd "$(dirname "$0")/.."
"$FCPIVOT_BUILD/bench/bench_conv" data/sample.jsonl --seconds 2
echo "  (load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
