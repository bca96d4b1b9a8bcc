import numpy as np
import pytest

from candle_tf.data.lt_protocol import (balanced_subset, draw_long_tailed, frequency_order,
                                        long_tailed_counts, relabel)


def test_counts_of_the_cifar_protocol():
    assert long_tailed_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139,
                                                 83, 50]


def test_ratio_one_is_balanced_and_below_one_is_refused():
    assert long_tailed_counts(7, 4, 1) == [7, 7, 7, 7]
    with pytest.raises(ValueError, match="imbalance_ratio"):
        long_tailed_counts(100, 10, 0.5)


def test_frequency_order_is_descending_with_stable_ties():
    labels = np.array([2, 2, 2, 0, 1, 1, 3, 3])
    assert frequency_order(labels, 4).tolist() == [2, 1, 3, 0]


def _balanced_labels(per_class=100, classes=10):
    return np.repeat(np.arange(classes), per_class)


def test_draw_gives_the_profile_and_reindexes_by_frequency():
    labels = np.concatenate([np.full(30, 3), np.full(50, 1), np.full(40, 0), np.full(60, 2)])
    draw = draw_long_tailed(labels, 4, imbalance_ratio=6, seed=0)
    # Original classes by frequency: 2 (60), 1 (50), 0 (40), 3 (30) -> ranks 0..3.
    assert draw.class_order.tolist() == [2, 1, 0, 3]
    assert np.bincount(draw.labels).tolist() == long_tailed_counts(60, 4, 6) == [60, 33, 18, 10]
    # Every drawn image keeps its class: original label of a rank-r image is class_order[r].
    assert (labels[draw.indices] == draw.class_order[draw.labels]).all()
    assert relabel(labels[draw.indices], draw.class_order).tolist() == draw.labels.tolist()
    assert len(np.intersect1d(draw.indices, draw.left_out)) == 0
    assert len(draw.indices) + len(draw.left_out) == len(labels)


def test_draw_depends_only_on_the_seed():
    labels = _balanced_labels()
    first = draw_long_tailed(labels, 10, 10, seed=3).indices
    assert np.array_equal(first, draw_long_tailed(labels, 10, 10, seed=3).indices)
    assert not np.array_equal(first, draw_long_tailed(labels, 10, 10, seed=4).indices)


def test_balanced_subset_caps_each_class():
    labels = np.array([0] * 5 + [1] * 30 + [2] * 12)
    picked = balanced_subset(labels, np.arange(len(labels)), 10, seed=0)
    assert np.bincount(labels[picked]).tolist() == [5, 10, 10]
