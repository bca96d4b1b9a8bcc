#!/usr/bin/env bash
# Sets everything up, then runs the test suite (what CI runs).
#   bash scripts/test.sh          the full suite, on 2 processes (pytest-xdist; a test
#                                 file stays in one process)
#   bash scripts/test.sh --fast   the fast tier: no test marked slow (whole pipelines,
#                                 subprocesses, LCE conversions beyond the first)
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then args+=(-m "not slow"); else args+=("$arg"); fi
done
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 -n 2 --dist loadfile \
  "${args[@]}"
