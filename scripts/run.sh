#!/usr/bin/env bash
# Sets everything up, then runs the main job: `python -m candle_tf.train` with the given
# flags (none = the offline default, --dataset=fashion_mnist_lt).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m candle_tf.train "$@"
