"""The experiment harness: a tiny grid end to end, resuming, and the method settings."""

import contextlib
import dataclasses
import io
import json
import os

import numpy as np
import pytest

from candle_tf.config import RunConfig
from candle_tf.experiments import __main__ as experiments_main
from candle_tf.experiments.methods import (baseline_config, check_methods, distillation_config,
                                           single_resolution)
from candle_tf.experiments.report import (COLUMNS, PLOT_FILES, comparison, paired_differences,
                                         summarise)
from candle_tf.models.teacher import build_encoder
from tests.apps import call

# A random encoder file (no pretraining) and a 32-px teacher view: the grid costs less.
TINY_GRID = ["--images_per_class=40", "--imbalance_ratio=10", "--calib_epochs=1",
             "--distill_epochs=1", "--resolutions=32", "--verbose=0", "--seeds=0"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def harness(workdir, methods, encoder):
    """``python -m candle_tf.experiments`` in-process: (exit code, its output)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code, _ = call(experiments_main, f"--workdir={workdir}", f"--methods={methods}",
                       f"--teacher_weights={encoder}", *TINY_GRID)
    return code, output.getvalue()


def done_marker(workdir, method):
    return os.path.join(workdir, "seed_0", "methods", method, "evaluation", "done.json")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    encoder = str(root / "encoder.weights.h5")
    build_encoder("mobilenet_v2_035", "none").save_weights(encoder)
    workdir = str(root / "grid")
    code, out = harness(workdir, "mislas,candle", encoder)
    assert code == 0
    return workdir, out, encoder


@pytest.mark.slow
def test_grid_writes_the_table_json_and_plots(grid):
    workdir, out, _ = grid
    report = os.path.join(workdir, "report")
    with open(os.path.join(report, "results.json")) as handle:
        results = json.load(handle)
    assert list(results["rows"]) == ["mislas", "candle"]
    assert results["train_counts"] == [40, 30, 23, 18, 14, 11, 8, 6, 5, 4]
    for row in results["rows"].values():
        assert row["seeds"] == [0] and row["top1"]["std"] is None
        assert len(row["per_class"]) == 10 and len(row["classifier_norms"]) == 10
        assert min(row["classifier_norms"]) > 0
        # overall top-1 on a balanced test set = mean of the per-class accuracies
        assert np.isclose(row["top1"]["mean"], np.mean(row["per_class"]), atol=1e-6)
    assert list(results["teachers"]) == ["teacher (FP, calibrated)"]
    with open(os.path.join(report, "results.md")) as handle:
        table = handle.read()
    assert "| method | overall | many | medium | few |" in table
    assert "| mislas |" in table and "| candle |" in table
    for name in PLOT_FILES.values():
        with open(os.path.join(report, name), "rb") as handle:
            assert handle.read(8) == PNG_MAGIC
    assert "| candle |" in out
    # --select=best_val (the default) reaches every student stage, baselines included.
    for method, stage in (("mislas", "student"), ("mislas", "classifier"),
                          ("candle", "distillation")):
        stage_dir = os.path.join(workdir, "seed_0", "methods", method, stage)
        with open(os.path.join(stage_dir, "done.json")) as handle:
            record = json.load(handle)
        assert record["select"] == "best_val" and record["selected_epoch"] == 1, stage_dir
        assert os.path.exists(os.path.join(stage_dir, "best", "best.json"))


@pytest.mark.slow
def test_rerun_skips_finished_runs_and_reuses_the_teacher(grid):
    workdir, _, encoder = grid
    finished = {m: os.path.getmtime(done_marker(workdir, m)) for m in ("mislas", "candle")}
    code, out = harness(workdir, "mislas,candle,kd,candle_posthoc", encoder)
    assert code == 0
    for method in ("mislas", "candle"):
        assert f"seed 0, {method}: already done, skipped" in out
        assert os.path.getmtime(done_marker(workdir, method)) == finished[method]
    assert "#### seed 0, kd: Plain KD" in out
    assert "== stage 0: teacher — already done" in out
    assert "== stage 1: calibration — already done" in out
    with open(os.path.join(workdir, "report", "results.json")) as handle:
        assert list(json.load(handle)["rows"]) == ["mislas", "candle", "kd", "candle_posthoc"]
    # The post-hoc row adjusts candle's student (not a new one) and is evaluated on its own.
    assert "#### seed 0, candle_posthoc: candle + post-hoc logit adjustment" in out
    twin = os.path.join(workdir, "seed_0", "methods", "candle_posthoc")
    with open(os.path.join(twin, "adjustment", "done.json")) as handle:
        adjusted = json.load(handle)
    assert adjusted["source_student"] == os.path.join(
        workdir, "seed_0", "methods", "candle", "distillation", "student.weights.h5")
    assert not os.path.exists(os.path.join(twin, "distillation"))
    with open(done_marker(workdir, "candle_posthoc")) as handle:
        assert json.load(handle)["val_top1"] == pytest.approx(adjusted["val_accuracy"])


def test_bad_methods_are_refused_before_any_work():
    with pytest.raises(ValueError, match="Unknown --methods focal"):
        check_methods(["ce", "focal"], (64,))
    with pytest.raises(ValueError, match="--resolutions=64 is one size"):
        check_methods(["candle_single_resolution"], (64,))
    check_methods(["candle_single_resolution"], (96, 64, 32))


def test_ablation_configs():
    config = RunConfig(resolutions=(96, 64, 32), ce_weight=0.0, kd_ce_weight=0.5)

    def changed(name):
        derived = distillation_config(name, config)
        return {k: v for k, v in dataclasses.asdict(derived).items()
                if getattr(config, k) != v}

    assert changed("candle") == {}
    assert changed("candle_no_balancer") == {"fixed_lambda": 0.5}
    assert changed("candle_no_balanced_kl") == {"balanced_kl": "none"}
    assert changed("candle_no_feature") == {"fs_weight": 0.0}
    assert changed("candle_no_head_pass") == {"head_pass": False}
    assert changed("candle_balanced_kl_both") == {"balanced_kl": "both"}
    assert changed("candle_bs_label") == {"label_loss": "balanced_softmax", "ce_weight": 0.5}
    assert changed("candle_cb_sampling") == {"balanced_kl": "none",
                                             "distill_sampling": "class_balanced"}
    earlier = {"balance": "kl_fs", "head_pass": False, "feature_target": "map",
               "kl_reduction": "batch"}
    assert changed("candle_kl_fs") == earlier
    assert changed("kd") == {**earlier, "fixed_lambda": 1.0, "ce_weight": 0.5}
    assert changed("candle_single_resolution") == {"resolutions": (64,)}
    # Label-only rows sample per instance (whatever the preset says for distillation)
    # unless they are the class-balanced control.
    class_balanced = dataclasses.replace(config, distill_sampling="class_balanced")
    assert baseline_config("ce", class_balanced) == config
    assert baseline_config("ce_cb_sampling", config) == class_balanced
    assert single_resolution((64, 32)) == (32,)  # the encoder's pretraining resolution
    # A run whose default objective is another one (a preset, flags) still gets the
    # authors' objective in the candle row, and the ablations start from it.
    variant = dataclasses.replace(config, balanced_kl="none", fs_weight=0.25, ce_weight=2.0,
                                  distill_sampling="class_balanced")
    assert distillation_config("candle", variant) == config
    assert distillation_config("candle_no_head_pass", variant).balanced_kl == "student"


def test_summary_is_mean_and_sample_std():
    summary = summarise([0.5, 0.7, 0.9])
    assert np.isclose(summary["mean"], 0.7) and np.isclose(summary["std"], 0.2)


def test_comparison_pairs_candle_with_the_best_baseline_seed_by_seed():
    def row(seeds, top1):
        return {"seeds": seeds, **{column: summarise(top1) for column in COLUMNS}}

    rows = {"ce": row([0, 1, 2], [0.50, 0.60, 0.70]),
            "ldam_drw": row([0, 1, 2], [0.62, 0.58, 0.66]),
            "candle_no_kl": row([0, 1, 2], [0.90, 0.90, 0.90]),  # an ablation, not a baseline
            "candle": row([0, 2], [0.60, 0.71])}
    assert paired_differences(rows["candle"], rows["ldam_drw"], "top1") == pytest.approx(
        [-0.02, 0.05])
    lines = comparison(rows)
    assert lines[3] == ("- overall: candle 65.50 ± 7.78 vs ldam_drw 62.00 ± 4.00: +1.50 "
                        "(per seed -2.00, +5.00; ahead in 1 of 2)")
    # Then the CANDLE row chosen on validation: candle_no_kl (3 seeds, val 0.90).
    assert lines[8] == ("candle_no_kl (the CANDLE row with the best validation accuracy) "
                        "against the best baseline of each column (points; seed by seed):")
    assert lines[10] == ("- overall: candle_no_kl 90.00 ± 0.00 vs ldam_drw 62.00 ± 4.00: "
                         "+28.00 (per seed +28.00, +32.00, +24.00; ahead in 3 of 3)")
    assert comparison({name: rows[name] for name in ("ce", "ldam_drw")}) == []


def test_cli_prints_a_bad_method_and_exits_nonzero(tmp_path, capsys):
    code, _ = harness(str(tmp_path / "grid"), "ce,focal", "pretrain")
    assert code == 1
    assert "error: Unknown --methods focal. Known: ce, cb," in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "grid" / "seed_0")
