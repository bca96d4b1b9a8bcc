import numpy as np

from candle_tf.metrics import long_tailed_report, shot_groups


def test_many_medium_few_by_count_rule():
    groups = shot_groups([101, 100, 20, 19, 5])
    assert groups["many"].tolist() == [0]
    assert groups["medium"].tolist() == [1, 2]
    assert groups["few"].tolist() == [3, 4]


def test_rank_ranges_when_a_group_is_empty():
    counts = [5, 20, 100, 101]  # unsorted on purpose: the rule is by count, ranks by count
    groups = shot_groups(counts)
    assert groups["many"].tolist() == [3]
    assert groups["medium"].tolist() == [1, 2]
    assert groups["few"].tolist() == [0]
    ten = [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]  # no few-shot class
    split = shot_groups(ten, ((0, 3), (3, 7), (7, 10)))
    assert [split[g].tolist() for g in ("many", "medium", "few")] == [[0, 1, 2], [3, 4, 5, 6],
                                                                        [7, 8, 9]]


def test_report_averages_class_accuracies_within_groups():
    counts = [5, 20, 100, 101]
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    predictions = np.array([0, 1, 1, 1, 0, 0, 3, 3])
    report = long_tailed_report(labels, predictions, counts)
    assert report["per_class"] == [0.5, 1.0, 0.0, 1.0]
    assert report["top1"] == 5 / 8
    assert report["many"] == 1.0 and report["medium"] == 0.5 and report["few"] == 0.5
    assert report["group_sizes"] == {"many": 1, "medium": 2, "few": 1}


def test_balanced_accuracy_streams_the_mean_of_class_accuracies():
    import tensorflow as tf

    from candle_tf.metrics import BalancedAccuracy, per_class_accuracy

    labels = np.array([0, 0, 0, 0, 1, 1, 3, 3])  # class 2 has no example: left out
    predictions = np.array([0, 0, 0, 1, 1, 0, 2, 3])
    metric = BalancedAccuracy(4)
    for part in (slice(0, 3), slice(3, 8)):
        metric.update_state(labels[part], tf.one_hot(predictions[part], 4))
    expected = np.nanmean(per_class_accuracy(labels, predictions, 4))  # (3/4 + 1/2 + 1/2) / 3
    assert np.isclose(float(metric.result()), expected) and np.isclose(expected, 7 / 12)
    assert float(metric.result()) != np.mean(labels == predictions)  # not plain top-1
    metric.reset_state()
    assert float(metric.result()) == 0.0
