"""Keras Tuner search over the distillation: the search space reaches the RunConfig, the
best trial comes back as a flagfile, and a 2-trial search on tiny data gives one that
``candle_tf.train`` trains."""

import csv
import json
import os
import subprocess
import sys
import time

import keras_tuner as kt
import pytest
from absl import flags

from candle_tf import app_flags
from candle_tf.config import RunConfig
from candle_tf.models.teacher import build_encoder
from candle_tf.search_space import SEARCH_SPACE, trial_config
from candle_tf.tune import search
from tests.test_train_cli import TINY

# A teacher encoder file instead of pretraining, and a small teacher view: the search and
# the training it is checked with cost less. TINY_TUNE also shows that train's flags apply.
TEACHER = "mobilenet_v2_035"
TINY_TUNE = [*TINY, f"--teacher={TEACHER}", "--resolutions=32"]


def test_every_searched_value_reaches_the_run_config():
    hp = kt.HyperParameters()
    base = RunConfig()
    config = trial_config(hp, base)
    assert set(SEARCH_SPACE) <= set(base.result_settings())
    values = hp.values
    assert (config.student_lr, config.temperature, config.balancer_lr) == (
        values["student_lr"], values["temperature"], values["balancer_lr"])
    assert config.balancer_hidden == (values["balancer_width"],) * 2
    assert (config.lambda_clamp, config.width_multiplier) == (
        values["lambda_clamp"], values["width_multiplier"])
    unsearched = {k: v for k, v in base.result_settings().items() if k not in SEARCH_SPACE}
    assert {k: config.result_settings()[k] for k in unsearched} == unsearched


def test_flagfile_lines_give_the_config_back(tmp_path):
    config = RunConfig(dataset="cifar10_lt", imbalance_ratio=10.0, resolutions=(96, 32),
                       class_balanced=False, student_lr=0.0123456789, lambda_clamp=0.1,
                       balancer_hidden=(16, 16), data_dir="", workdir=str(tmp_path / "w"),
                       strategy="mirrored")
    path = tmp_path / "best.cfg"
    path.write_text("# a comment\n" + "\n".join(app_flags.flagfile_lines(config)) + "\n")
    values = flags.FlagValues()
    app_flags.define_flags(values)
    values(["prog", f"--flagfile={path}"])
    app_flags.apply_preset(values)  # the preset must not override anything written
    assert app_flags.config_from_flags(values) == config


@pytest.mark.parametrize("kind, max_trials, strategy, message", [
    ("grid", 2, "default", "Unknown --tuner='grid'. Use one of random, bayesian, hyperband"),
    ("random", 0, "default", "--max_trials=0: give at least 1"),
    ("random", 2, "multi_worker", "Keras Tuner's own distributed tuning"),
])
def test_bad_search_settings_fail_before_any_work(tmp_path, kind, max_trials, strategy,
                                                  message):
    config = RunConfig(workdir=str(tmp_path / "run"), strategy=strategy)
    with pytest.raises(ValueError, match=message):
        search(config, kind, max_trials)
    assert not os.path.exists(tmp_path / "run")


def test_two_trial_search_then_train_the_best(tmp_path):
    workdir = tmp_path / "tune"
    encoder = str(tmp_path / "encoder.weights.h5")
    build_encoder(TEACHER, "none").save_weights(encoder)

    start = time.time()
    tune = subprocess.run(
        [sys.executable, "-m", "candle_tf.tune", f"--workdir={workdir}", "--tuner=random",
         "--max_trials=2", f"--teacher_weights={encoder}", *TINY_TUNE],
        capture_output=True, text=True, timeout=1200, cwd=str(tmp_path))
    print(f"2-trial search: {time.time() - start:.0f} s")
    assert tune.returncode == 0, tune.stderr[-3000:]
    assert tune.stdout.count("== stage 1: calibration done") == 1  # one teacher for all
    out = workdir / "tune" / "random"
    with open(out / "trials.csv") as handle:
        trials = list(csv.DictReader(handle))
    assert [t["status"] for t in trials] == ["COMPLETED", "COMPLETED"]
    scores = [float(t["val_balanced_accuracy"]) for t in trials]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert "Results summary" in (out / "summary.txt").read_text()
    best = trials[scores.index(max(scores))]
    written = app_flags.read_flagfile(out / "best.cfg")
    assert float(written["student_lr"]) == float(best["student_lr"])
    assert written["balancer_hidden"] == f"{best['balancer_width']},{best['balancer_width']}"
    assert float(written["lambda_clamp"]) == float(best["lambda_clamp"])
    assert written["resolutions"] == "32" and written["teacher_weights"] == encoder

    start = time.time()
    train = subprocess.run([sys.executable, "-m", "candle_tf.train", f"--flagfile={out}/best.cfg"],
                           capture_output=True, text=True, timeout=1200, cwd=str(tmp_path))
    print(f"training the best configuration: {time.time() - start:.0f} s")
    assert train.returncode == 0, train.stderr[-3000:]
    best_run = out / "best_run"
    assert (best_run / "metrics.json").exists()
    with open(best_run / "run.json") as handle:
        settings = json.load(handle)["settings"]
    assert settings["student_lr"] == float(best["student_lr"])
    assert settings["temperature"] == float(best["temperature"])
    assert settings["width_multiplier"] == float(best["width_multiplier"])
