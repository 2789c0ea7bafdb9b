#!/usr/bin/env bash
# The statistics benchmark and the reference Python stack on the same generated question, in
# one run on this machine: markroom's time, then Python's, then their largest differences.
#   scripts/stats_bench.sh [python]   (python: an interpreter with numpy, pandas, scipy, pingouin,
#                                      krippendorff, scikit-learn and statsmodels; default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${STATS_BENCH_OUT:-$(mktemp -d)}"
STATS_BENCH_OUT="$out" cargo bench --bench statistics
"${1:-python3}" scripts/stats_reference.py "$out"
