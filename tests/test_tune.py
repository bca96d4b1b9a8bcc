"""Keras Tuner search over the distillation: the search space reaches the RunConfig, and
a 2-trial search on the tiny run's teacher writes the best trial as a flagfile that
``candle_tf.train`` reads back as that trial's settings."""

import csv
import json
import os
import time

import keras_tuner as kt
import pytest
from absl import flags

from candle_tf import app_flags, train, tune
from candle_tf.config import RunConfig
from candle_tf.pipeline import Run
from candle_tf.search_space import SEARCH_SPACE, trial_config
from candle_tf.tune import search
from tests.apps import call, flag_values
from tests.conftest import TINY, copy_run


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


@pytest.mark.slow
def test_two_trial_search_writes_the_best_trial_as_a_flagfile(tiny_run, tmp_path, capsys):
    # The tiny run's finished teacher stages: the search reuses them (same settings).
    workdir = copy_run(tiny_run[0], str(tmp_path / "run"), stages=("teacher", "calibration"))
    start = time.time()
    code, path = call(tune, f"--workdir={workdir}", "--tuner=random", "--max_trials=2", *TINY)
    print(f"2-trial search: {time.time() - start:.0f} s")
    assert code == 0
    assert "== stage 1: calibration — already done" in capsys.readouterr().out
    out = os.path.join(workdir, "tune", "random")
    assert path == os.path.join(out, "best.cfg")
    with open(os.path.join(out, "trials.csv")) as handle:
        trials = list(csv.DictReader(handle))
    assert [t["status"] for t in trials] == ["COMPLETED", "COMPLETED"]
    with open(os.path.join(out, "summary.txt")) as handle:
        assert "Results summary" in handle.read()
    # The best trial's score is its best epoch's validation balanced accuracy (best_val).
    scores = [float(t["val_balanced_accuracy"]) for t in trials]
    best = trials[scores.index(max(scores))]
    with open(os.path.join(out, f"trial_{best['trial_id']}", "trial.json")) as handle:
        trial = json.load(handle)
    assert trial["score"] == pytest.approx(max(scores))
    # best.cfg gives back the tiny run's settings with the best trial's searched values.
    values = flag_values(train, f"--flagfile={path}")
    config = app_flags.config_from_command_line(values)
    expected = trial_config(kt.HyperParameters.from_config(trial["hyperparameters"]),
                            Run.reopen(workdir).config)
    assert config.result_settings() == expected.result_settings()
    assert config.workdir == os.path.join(out, "best_run")
