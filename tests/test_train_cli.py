"""The whole CLI on a tiny slice of Fashion-MNIST, resuming, and bad input."""

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from candle_tf import export
from candle_tf.config import RunConfig
from candle_tf.train import run

TINY = ["--images_per_class=40", "--imbalance_ratio=10", "--pretrain_epochs=1",
        "--calib_epochs=1", "--distill_epochs=1", "--parity_images=20", "--verbose=0"]


def train(workdir, *flags, timeout=600):
    command = [sys.executable, "-m", "candle_tf.train", f"--workdir={workdir}", *TINY, *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(workdir))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("smoke") / "run")
    start = time.time()
    result = train(workdir)
    print(f"smoke run: {time.time() - start:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, result


def test_smoke_run_writes_metrics_tflite_and_saved_model(smoke):
    workdir, result = smoke
    with open(os.path.join(workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["train_counts"] == [40, 30, 23, 18, 14, 11, 8, 6, 5, 4]
    for report in metrics["models"].values():
        assert 0.0 <= report["top1"] <= 1.0
        assert set(report["group_sizes"]) == {"many", "medium", "few"}
        assert len(report["per_class"]) == 10
    with open(os.path.join(workdir, "export", "student.tflite"), "rb") as handle:
        ops = export.count_tflite_ops(handle.read())
    assert ops["LceBconv2d"] == 31  # every binary conv of ReActNet-A
    assert os.path.exists(os.path.join(workdir, "export", "serving", "candle_student", "1",
                                       "saved_model.pb"))
    assert metrics["export"]["parity"]["agreement"] >= 0.95
    assert "student (reactnet_a)" in result.stdout and "| top1 | many | medium | few |" in \
        result.stdout


def test_lambda_is_logged_every_step(smoke):
    workdir, _ = smoke
    with open(os.path.join(workdir, "distillation", "lambda.csv")) as handle:
        rows = handle.read().splitlines()
    assert rows[0] == "step,lambda,w2,l_kl,l_kl_bal,l_fs,label,head"
    values = [[float(v) for v in row.split(",")] for row in rows[1:]]
    assert [int(row[0]) for row in values] == list(range(1, len(values) + 1))
    # The preset's objective has no balanced KL: the KL's weight is 1, the balancer rests.
    assert all(row[1:3] == [1.0, 0.0] and all(map(math.isfinite, row)) for row in values)


def test_rerun_skips_finished_stages(smoke):
    workdir, _ = smoke
    result = train(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert Counter(line.split(" — ")[-1] for line in result.stdout.splitlines()
                   if line.startswith("== stage"))[f"already done in {workdir}/teacher"] == 1
    assert result.stdout.count("already done") == 5


def test_rerun_with_other_settings_is_refused(smoke):
    workdir, _ = smoke
    result = train(workdir, "--temperature=4")
    assert result.returncode != 0
    assert "--temperature: was 2.0, now 4.0" in result.stderr
    assert "new --workdir" in result.stderr


@pytest.mark.parametrize("changes, message", [
    ({"dataset": "cifar_lt"}, "Unknown --dataset='cifar_lt'. Known: aircraft_lt, caltech101_lt"),
    ({"teacher": "resnet9000"}, "Unknown --teacher='resnet9000'. Known backbones:"),
    ({"student": "nope"}, "Unknown --student='nope'. Known: binary_densenet28, "),
    ({"imbalance_ratio": 0.5}, "--imbalance_ratio=0.5 is below 1"),
    ({"teacher_weights": "/no/such/weights.h5"}, "no such file"),
    ({"data_dir": "/no/such/dir"}, "apt-get install -y dataset-fashion-mnist"),
    ({"resolutions": (64, 16)}, "--resolutions=64,16: give one or more view sizes of at "
                                "least 32 px"),
    ({"select": "bogus"}, "--select='bogus': use one of best_val, last"),
])
def test_bad_input_fails_before_training_with_the_fix(tmp_path, changes, message):
    settings = {"teacher": "mobilenet_v2_035", "teacher_weights": "pretrain",
                "workdir": str(tmp_path / "run"), **changes}
    config = RunConfig(**settings)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        run(config)
    assert message in str(error.value)
    assert not os.path.exists(tmp_path / "run" / "teacher")


def test_cli_prints_the_error_and_exits_nonzero(tmp_path):
    result = subprocess.run([sys.executable, "-m", "candle_tf.train", "--dataset=places",
                             f"--workdir={tmp_path}"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "error: Unknown --dataset='places'" in result.stderr


def test_help_documents_the_flags():
    result = subprocess.run([sys.executable, "-m", "candle_tf.train", "--help"],
                            capture_output=True, text=True, timeout=120)
    for flag in ("--teacher_weights", "--resolutions", "--imbalance_ratio", "--workdir"):
        assert flag in result.stdout
