#!/usr/bin/env bash
# Protocol-layer figures without HTTP (bench/ors_protocol.c) on the sample dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
"$FCPIVOT_BUILD/bench/ors_protocol" data/sample.jsonl 3
