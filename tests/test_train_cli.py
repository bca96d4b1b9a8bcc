"""``python -m candle_tf.train``: the shared tiny run's artefacts, re-running it, an older
run record, and bad input refused before any work (in-process, as the CLI runs it)."""

import json
import math
import os
import subprocess
from collections import Counter

import numpy as np
import pytest

from candle_tf import export, train
from candle_tf.config import settings
from candle_tf.pipeline import Run
from candle_tf.workdir import Workdir
from tests.apps import call, flag_values
from tests.conftest import REPO, TINY, app_command, app_env, copy_run


def test_tiny_run_writes_metrics_tflite_and_saved_model(tiny_run):
    workdir, stdout = tiny_run
    with open(os.path.join(workdir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["train_counts"] == [40, 30, 23, 18, 14, 11, 8, 6, 5, 4]
    for report in metrics["models"].values():
        # A balanced test split: top-1 is the mean of the per-class accuracies; a derived
        # set's groups are its frequency ranks in thirds (3 / 4 / 3 of 10 classes).
        assert report["top1"] == pytest.approx(np.mean(report["per_class"]), abs=1e-6)
        assert report["group_sizes"] == {"many": 3, "medium": 4, "few": 3}
    with open(os.path.join(workdir, "export", "student.tflite"), "rb") as handle:
        ops = export.count_tflite_ops(handle.read())
    assert ops["LceBconv2d"] == 31  # every binary conv of ReActNet-A
    assert os.path.exists(os.path.join(workdir, "export", "serving", "candle_student", "1",
                                       "saved_model.pb"))
    assert metrics["export"]["parity"]["agreement"] >= 0.95
    # --posthoc_adjustment=none: no adjustment stage ran, so it has no time
    assert set(metrics["stage_seconds"]) == {"teacher", "calibration", "distillation",
                                             "evaluation", "export"}
    assert metrics["posthoc_tau"] is None
    assert "student (reactnet_a)" in stdout and "| top1 | many | medium | few |" in stdout


def test_lambda_is_logged_every_step(tiny_run):
    workdir, _ = tiny_run
    with open(os.path.join(workdir, "distillation", "lambda.csv")) as handle:
        rows = handle.read().splitlines()
    assert rows[0] == "step,lambda,w2,l_kl,l_kl_bal,l_fs,label,head"
    values = [[float(v) for v in row.split(",")] for row in rows[1:]]
    assert [int(row[0]) for row in values] == list(range(1, len(values) + 1))
    # The preset's objective has no balanced KL: the KL's weight is 1, the balancer rests.
    assert all(row[1:3] == [1.0, 0.0] and all(map(math.isfinite, row)) for row in values)


def stage_banners(out: str) -> Counter:
    return Counter(line.split(" — ")[-1].split(" in ")[0] for line in out.splitlines()
                   if line.startswith("== stage"))


def test_rerun_skips_finished_stages_and_refuses_changed_settings(tiny_run, tmp_path, capsys):
    workdir = copy_run(tiny_run[0], str(tmp_path / "run"))
    code, metrics = call(train, f"--workdir={workdir}", *TINY)
    assert code == 0 and stage_banners(capsys.readouterr().out) == {"already done": 5}
    assert metrics["models"] == json.loads(open(os.path.join(tiny_run[0], "metrics.json"))
                                           .read())["models"]
    code, _ = call(train, f"--workdir={workdir}", *TINY, "--temperature=4")
    err = capsys.readouterr().err
    assert code == 1 and "--temperature: was 2.0, now 4.0" in err and "new --workdir" in err


def test_a_run_recorded_by_an_older_version_resumes(tiny_run, tmp_path, capsys):
    """run.json as candle_tf at 9cb2333 wrote it (before the baselines' settings joined
    RunConfig; its objective settings are the preset's of today): the new code resumes it
    and re-exports it with the settings it records."""
    workdir = copy_run(tiny_run[0], str(tmp_path / "run"))
    old = json.load(open(os.path.join(REPO, "tests", "data", "records", "run_9cb2333.json")))
    assert "cb_beta" not in old["settings"]
    with open(os.path.join(workdir, "run.json"), "w") as handle:
        json.dump(old, handle)
    code, _ = call(train, f"--workdir={workdir}", *TINY)
    assert code == 0 and stage_banners(capsys.readouterr().out) == {"already done": 5}
    assert Run.reopen(workdir).config == Run.reopen(tiny_run[0]).config.replace(
        workdir=workdir)


def test_a_failed_first_attempt_can_be_retried_with_the_fix(tiny_run, tmp_path):
    """Settings lock once a stage that depends on them has started, not before."""
    config = Run.reopen(tiny_run[0]).config.replace(workdir=str(tmp_path / "run"))
    # The first attempt recorded imagenet weights and died offline in stage 0.
    Workdir(config.workdir).record_run(config.replace(teacher_weights="imagenet"))
    assert Run(config).teacher().source == "shipped"
    with pytest.raises(ValueError, match="--teacher_weights: was 'shipped', now 'pretrain'"):
        Run(config.replace(teacher_weights="pretrain")).teacher()


@pytest.mark.parametrize("flags, message", [
    (["--dataset=cifar_lt"], "Unknown --dataset='cifar_lt'. Known: aircraft_lt, caltech101_lt"),
    (["--teacher=resnet9000"], "Unknown --teacher='resnet9000'. Known backbones:"),
    (["--student=nope"], "Unknown --student='nope'. Known: binary_densenet28, "),
    (["--imbalance_ratio=0.5"], "--imbalance_ratio=0.5: must be >= 1 (n_max / n_min"),
    (["--teacher_weights=/no/such/weights.h5"], "no such file"),
    (["--data_dir=/no/such/dir"], "apt-get install -y dataset-fashion-mnist"),
    (["--resolutions=64,16"], "--resolutions=64,16: must be >= 32"),
    (["--distill_epochs=-1"], "--distill_epochs=-1: must be >= 1"),
    (["--calib_momentum=1"], "--calib_momentum=1: must be >= 0 and < 1"),
    (["--workdir=/sys/candle_run"], "--workdir=/sys/candle_run: cannot write in /sys"),
])
def test_bad_input_fails_before_training_with_the_fix(tmp_path, capsys, flags, message):
    workdir = str(tmp_path / "run")
    code, _ = call(train, f"--workdir={workdir}", *TINY, *flags)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and message in err, err
    assert not os.path.exists(os.path.join(workdir, "teacher"))


@pytest.mark.parametrize("flags, message", [
    (["--resolutions=abc"], "flag --resolutions=abc: 'abc' is not a list of whole numbers"),
    (["--select=bogus"], "flag --select=bogus: value should be one of <best_val|last>"),
])
def test_unparsable_flags_are_named(flags, message):
    with pytest.raises(Exception, match=message):
        flag_values(train, *flags)


def test_every_setting_is_a_flag_with_its_declared_help():
    values = flag_values(train)
    for name, (spec, declared) in settings().items():
        flag = values[name]
        assert declared.help in flag.help and flag.default == spec.default, name
        if declared.choices:
            assert f"<{'|'.join(declared.choices)}>" in flag.help, name


def test_help_lists_the_flags():
    result = subprocess.run(app_command("candle_tf.train", "--help"), capture_output=True,
                            text=True, timeout=120, env=app_env())
    for flag in ("--teacher_weights", "--resolutions", "--imbalance_ratio", "--workdir",
                 "--cb_beta"):
        assert flag in result.stdout
    assert "<kl_pair|kl_fs>" in result.stdout and "[>= 1]" in result.stdout
