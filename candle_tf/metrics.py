"""Long-tailed metrics: many / medium / few groups, per-class and group accuracies."""

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

MANY_ABOVE = 100  # many-shot: more than 100 training images
FEW_BELOW = 20    # few-shot: fewer than 20; medium: 20 to 100 inclusive
GROUPS = ("many", "medium", "few")


def shot_groups(train_counts: Sequence[int],
                rank_ranges: Optional[Tuple[Tuple[int, int], ...]] = None
                ) -> Dict[str, np.ndarray]:
    """Class ids of the many / medium / few groups.

    The LT literature's rule by training images per class (many > 100, medium 20-100,
    few < 20). Where it leaves a group empty and ``rank_ranges`` is given, the classes are
    split by frequency rank instead (``[(0, 3), (3, 7), (7, 10)]`` for 10 classes).
    """
    counts = np.asarray(train_counts)
    by_count = {
        "many": np.flatnonzero(counts > MANY_ABOVE),
        "medium": np.flatnonzero((counts >= FEW_BELOW) & (counts <= MANY_ABOVE)),
        "few": np.flatnonzero(counts < FEW_BELOW),
    }
    if all(len(ids) for ids in by_count.values()) or rank_ranges is None:
        return by_count
    ranks = np.argsort(-counts, kind="stable")
    return {group: np.sort(ranks[lo:hi]) for group, (lo, hi) in zip(GROUPS, rank_ranges)}


def per_class_accuracy(labels: np.ndarray, predictions: np.ndarray,
                       num_classes: int) -> np.ndarray:
    """Accuracy of each class (NaN for a class with no test image)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    totals = np.bincount(labels, minlength=num_classes).astype(np.float64)
    hits = np.bincount(labels[labels == predictions], minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, hits / totals, np.nan)


def group_accuracy(per_class: np.ndarray, ids: np.ndarray) -> Optional[float]:
    """Mean accuracy of the classes ``ids`` that have test images; None if there are none
    (an empty group: JSON null, never NaN)."""
    scored = per_class[ids][~np.isnan(per_class[ids])]
    return float(scored.mean()) if len(scored) else None


def long_tailed_report(labels: np.ndarray, predictions: np.ndarray,
                       train_counts: Sequence[int],
                       rank_ranges: Optional[Tuple[Tuple[int, int], ...]] = None) -> dict:
    """Top-1, many / medium / few (mean of per-class accuracy in each group), per class.

    ``train_counts``: the training images per class that define the groups (a data set's
    ``group_counts``). A group with no class (or no test image) is None.
    """
    num_classes = len(train_counts)
    per_class = per_class_accuracy(labels, predictions, num_classes)
    groups = shot_groups(train_counts, rank_ranges)
    report = {"top1": float(np.mean(np.asarray(labels) == np.asarray(predictions)))}
    for group, ids in groups.items():
        report[group] = group_accuracy(per_class, ids)
    report["group_sizes"] = {group: int(len(ids)) for group, ids in groups.items()}
    report["per_class"] = [None if np.isnan(a) else float(a) for a in per_class]
    return report


class BalancedAccuracy(tf.keras.metrics.Metric):
    """Mean per-class accuracy over the batches seen, in the graph (a Keras metric).

    Classes with no example yet are left out of the mean. On a balanced split it is the
    top-1 accuracy; on any other it weighs every class equally.
    """

    def __init__(self, num_classes: int, name: str = "balanced_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.hits = self.add_weight("hits", shape=(num_classes,), initializer="zeros")
        self.totals = self.add_weight("totals", shape=(num_classes,), initializer="zeros")

    def update_state(self, labels, logits):
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels),
                          self.dtype)
        self.hits.assign_add(tf.math.unsorted_segment_sum(correct, labels, self.num_classes))
        self.totals.assign_add(tf.math.unsorted_segment_sum(tf.ones_like(correct), labels,
                                                            self.num_classes))

    def reset_state(self):
        for variable in (self.hits, self.totals):
            variable.assign(tf.zeros_like(variable))

    def result(self):
        seen = tf.reduce_sum(tf.cast(self.totals > 0, self.dtype))
        return tf.reduce_sum(tf.math.divide_no_nan(self.hits, self.totals)) / tf.maximum(seen, 1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
