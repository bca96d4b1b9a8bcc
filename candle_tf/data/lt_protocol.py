"""The long-tailed protocol: exponential class profile, frequency re-indexing, seeded draw.

n_i = floor(n_max * rho^(-i / (C - 1))) for frequency rank i (LDAM-DRW / CIFAR-LT
protocol). Only the training split is subsampled; the test split stays balanced.
"""

from dataclasses import dataclass

import numpy as np


def long_tailed_counts(n_max: int, num_classes: int, imbalance_ratio: float) -> list:
    """Images per class, by frequency rank, for the exponential profile."""
    if imbalance_ratio < 1:
        raise ValueError(
            f"--imbalance_ratio={imbalance_ratio} is below 1; it is n_max / n_min, so use 1 "
            "(balanced) or more (e.g. 100)."
        )
    if num_classes == 1:
        return [int(n_max)]
    inverse = 1.0 / imbalance_ratio
    return [int(n_max * inverse ** (rank / (num_classes - 1.0))) for rank in range(num_classes)]


def frequency_order(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Original class ids sorted by training frequency, descending (ties: lower id first)."""
    counts = np.bincount(labels, minlength=num_classes)
    return np.argsort(-counts, kind="stable")


@dataclass(frozen=True)
class LongTailedDraw:
    """Result of drawing a long-tailed subset from a training split.

    Attributes:
      indices: positions in the source split that form the LT training set.
      labels: the re-indexed labels (frequency rank) of those images.
      class_order: ``class_order[new_label]`` is the original class id.
      left_out: positions in the source split that the draw did not take.
    """

    indices: np.ndarray
    labels: np.ndarray
    class_order: np.ndarray
    left_out: np.ndarray


def draw_long_tailed(labels: np.ndarray, num_classes: int, imbalance_ratio: float,
                     seed: int, n_max: int = 0) -> LongTailedDraw:
    """Draws the LT training subset: classes re-indexed by frequency, seeded per-class draw.

    ``n_max`` defaults to the size of the most frequent class.
    """
    labels = np.asarray(labels, dtype=np.int64)
    order = frequency_order(labels, num_classes)
    available = np.bincount(labels, minlength=num_classes)[order]
    n_max = int(n_max or available[0])
    wanted = long_tailed_counts(n_max, num_classes, imbalance_ratio)
    rng = np.random.default_rng(seed)
    chosen, new_labels = [], []
    for rank, original in enumerate(order):
        members = np.flatnonzero(labels == original)
        take = min(wanted[rank], len(members))
        chosen.append(np.sort(rng.choice(members, size=take, replace=False)))
        new_labels.append(np.full(take, rank, dtype=np.int64))
    indices = np.concatenate(chosen)
    left_out = np.setdiff1d(np.arange(len(labels)), indices)
    return LongTailedDraw(indices, np.concatenate(new_labels), order, left_out)


def relabel(labels: np.ndarray, class_order: np.ndarray) -> np.ndarray:
    """Maps original labels to frequency-rank labels, given ``class_order`` of a draw."""
    rank_of = np.empty(len(class_order), dtype=np.int64)
    rank_of[class_order] = np.arange(len(class_order))
    return rank_of[np.asarray(labels, dtype=np.int64)]


def balanced_subset(labels: np.ndarray, candidates: np.ndarray, per_class: int,
                    seed: int) -> np.ndarray:
    """Up to ``per_class`` positions per class from ``candidates`` (seeded, sorted)."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels[candidates]):
        members = candidates[labels[candidates] == label]
        picked.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
