"""Between stages 2 and 3, optional: post-hoc logit adjustment of the student.

The kept student's logits become ``z - tau * log(pi)`` (pi: the training class
frequencies; Menon et al. 2021, "Long-tail learning via logit adjustment", section 4),
with tau the value of ``TAUS`` whose balanced accuracy on the validation split is highest.
The shift is folded into the classifier's bias, so evaluation, the .tflite and the
SavedModel all carry it. The test split is not read.
"""

import os
from typing import Sequence, Tuple

import numpy as np

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.evaluate import predict_logits
from candle_tf.losses import log_prior
from candle_tf.metrics import per_class_accuracy
from candle_tf.models.heads import classifier_head
from candle_tf.models.students import logits_model

STUDENT_FILE = "student.weights.h5"
TAUS = tuple(round(0.1 * step, 1) for step in range(21))  # 0, 0.1, ..., 2 (Menon et al.)
TIE = 1e-9  # accuracies this close are equal: sums of per-class fractions differ in the last bit


def balanced_accuracy(labels, logits) -> float:
    """Mean per-class accuracy of ``argmax(logits)`` over the classes that have images.

    >>> balanced_accuracy([0, 0, 0, 1], [[1, 0], [1, 0], [1, 0], [1, 0]])
    0.5
    """
    logits = np.asarray(logits)
    return float(np.nanmean(per_class_accuracy(labels, logits.argmax(-1), logits.shape[-1])))


def choose_tau(labels, logits, prior_log, taus: Sequence[float] = TAUS
               ) -> Tuple[float, dict]:
    """The tau of ``taus`` with the highest balanced accuracy of ``logits - tau * log
    prior`` (the smallest such tau on a tie, floating-point noise counting as a tie), and
    the accuracy of every tau.

    >>> choose_tau([0, 1], [[3.0, 0.0], [1.0, 0.0]], np.log([0.9, 0.1]), taus=(0, 1))
    (1, {0: 0.5, 1: 1.0})
    """
    logits, prior_log = np.asarray(logits), np.asarray(prior_log)
    scores = {tau: balanced_accuracy(labels, logits - tau * prior_log) for tau in taus}
    best = max(scores.values())
    return next(tau for tau in taus if scores[tau] >= best - TIE), scores


def fold_into_bias(head, prior_log, tau: float) -> None:
    """``head``'s logits minus ``tau * prior_log``: subtracted from its bias."""
    if not head.use_bias:
        raise ValueError(f"Post-hoc logit adjustment shifts the bias of the classifier "
                         f"{head.name!r}, which has none: give --posthoc_adjustment=none.")
    head.bias.assign(head.bias - tau * np.asarray(prior_log, dtype=np.float32))


def run(config: RunConfig, dataset: LongTailedDataset, student_path: str,
        stage_dir: str) -> dict:
    """Writes ``<stage_dir>/student.weights.h5``: the student of ``student_path`` with the
    tau chosen on the validation split folded in."""
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    logits = predict_logits(logits_model(student), dataset.val, config.student_view_size,
                            config.eval_batch_size, config.eval_crop_fraction,
                            dataset.channels)
    prior_log = log_prior(dataset.train_counts)
    tau, scores = choose_tau(dataset.val.labels, logits, prior_log)
    fold_into_bias(classifier_head(student), prior_log, tau)
    path = os.path.join(stage_dir, STUDENT_FILE)
    student.save_weights(path)
    print(f"Post-hoc logit adjustment: tau = {tau:g} (validation balanced accuracy "
          f"{100 * scores[0]:.2f} % at tau 0 -> {100 * scores[tau]:.2f} %)", flush=True)
    return {"student": path, "val_accuracy": scores[tau], "tau": tau,
            "val_accuracy_by_tau": {f"{t:g}": score for t, score in scores.items()},
            "source_student": student_path}
