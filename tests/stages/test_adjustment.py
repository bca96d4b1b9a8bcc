"""Post-hoc logit adjustment: tau chosen on validation, folded into the classifier's bias."""

import json
import os

import h5py
import numpy as np
import pytest
import tensorflow as tf

from candle_tf import train
from candle_tf.stages import adjustment
from candle_tf.stages.adjustment import TAUS, balanced_accuracy, choose_tau, fold_into_bias
from tests.apps import call
from tests.conftest import TINY, copy_run

PRIOR_LOG = np.log([0.7, 0.2, 0.1])


def test_balanced_accuracy_averages_the_classes_that_have_images():
    # class 0: 1 of 2 right, class 1: 1 of 1, class 2 has no image (not counted)
    logits = [[2, 1, 0], [0, 1, 0], [0, 3, 1]]
    assert balanced_accuracy([0, 0, 1], logits) == pytest.approx(0.75)


def test_tau_is_the_smallest_best_on_validation():
    # One image per class; logits - tau * log prior by hand (log prior -0.357, -1.609,
    # -2.303): the class-2 image [1, 0.2, 0] turns from class 0 to class 2 once
    # 2.303 tau > 1 + 0.357 tau (tau > 0.514); the class-0 image [2, 0, 0] stays class 0
    # while 2 + 0.357 tau > 2.303 tau (tau < 1.028); the class-1 image [0, 1, 0] stays
    # class 1 while 1 + 1.609 tau > 2.303 tau (tau < 1.441).
    labels = [0, 1, 2]
    logits = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.2, 0.0]]
    tau, scores = choose_tau(labels, logits, PRIOR_LOG)
    assert scores[0] == pytest.approx(2 / 3) and scores[0.5] == pytest.approx(2 / 3)
    assert scores[0.6] == pytest.approx(1.0) and scores[1.1] == pytest.approx(2 / 3)
    assert scores[1.5] == pytest.approx(1 / 3)
    assert tau == 0.6  # 0.6 and 1.0 also reach 1.0; the smallest wins
    assert set(scores) == set(TAUS)


def test_a_tie_up_to_floating_point_noise_keeps_the_smaller_tau(monkeypatch):
    # (0.1 + 0.2) + 0.7 and (0.7 + 0.2) + 0.1 differ in the last bit: the same accuracy.
    noisy = {0.0: 0.72, 0.1: 0.7200000000000001, 0.2: 0.71}
    monkeypatch.setattr(adjustment, "balanced_accuracy",
                        lambda labels, logits: noisy[round(float(logits[0][0]), 1)])
    tau, _ = choose_tau([0], [[0.0]], np.array([-1.0]), taus=(0.0, 0.1, 0.2))
    assert tau == 0.0


def test_folding_shifts_the_logits_by_tau_log_prior():
    head = tf.keras.layers.Dense(3)
    features = tf.random.stateless_normal((4, 5), seed=(1, 2))
    before = head(features).numpy()
    fold_into_bias(head, PRIOR_LOG, 0.5)
    np.testing.assert_allclose(head(features).numpy(), before - 0.5 * PRIOR_LOG, atol=1e-6)


def test_a_head_without_bias_is_refused_with_the_fix():
    head = tf.keras.layers.Dense(3, use_bias=False)
    head.build((None, 5))
    with pytest.raises(ValueError, match="--posthoc_adjustment=none"):
        fold_into_bias(head, PRIOR_LOG, 0.5)


def weight_arrays(path: str) -> dict:
    """Every array of a Keras weights file, by its path inside the file."""
    arrays = {}
    with h5py.File(path, "r") as weights:
        weights.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                           if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.mark.slow
def test_a_trained_run_is_adjusted_before_it_is_evaluated(tiny_run, tmp_path, monkeypatch):
    """The flag on a run trained but not yet evaluated: the adjustment stage folds tau into
    the classifier's bias (tau forced to 2 here, so that it is not 0), and the evaluation
    reads the adjusted student."""
    workdir = copy_run(tiny_run[0], str(tmp_path / "run"),
                       stages=["teacher", "calibration", "distillation"])
    choose = adjustment.choose_tau
    monkeypatch.setattr(adjustment, "choose_tau", lambda labels, logits, prior_log: (
        2.0, choose(labels, logits, prior_log, taus=(0.0, 2.0))[1]))
    code, _ = call(train, f"--workdir={workdir}", *TINY, "--posthoc_adjustment=validation",
                   "--until=evaluation")
    assert code == 0
    with open(os.path.join(workdir, "adjustment", "done.json")) as handle:
        adjusted = json.load(handle)
    assert adjusted["tau"] == 2.0
    assert adjusted["source_student"].endswith(os.path.join("distillation",
                                                            "student.weights.h5"))
    before = weight_arrays(adjusted["source_student"])
    after = weight_arrays(os.path.join(workdir, "adjustment", "student.weights.h5"))
    assert set(before) == set(after)
    changed = [name for name in before if not np.array_equal(before[name], after[name])]
    assert len(changed) == 1  # the classifier's bias, shifted by -2 log(pi)
    prior = np.exp((before[changed[0]] - after[changed[0]]) / 2.0)
    assert prior.sum() == pytest.approx(1.0, abs=1e-4)
    assert prior.argmax() == 0 and prior.argmin() == len(prior) - 1  # head ... tail
    with open(os.path.join(workdir, "evaluation", "metrics.json")) as handle:
        student = json.load(handle)["student (reactnet_a)"]
    # the validation split is balanced: its top-1 is the adjusted student's balanced accuracy
    assert student["val_top1"] == pytest.approx(adjusted["val_accuracy_by_tau"]["2"],
                                                abs=1e-6)
