#!/usr/bin/env bash
# Installs everything candle_tf needs, idempotently: a virtual env in .venv with the
# pinned packages, the package itself (editable), and the offline default data set.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -e .

DATA=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$DATA" ]; then
  echo "Fashion-MNIST is missing: installing Debian's dataset-fashion-mnist"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
