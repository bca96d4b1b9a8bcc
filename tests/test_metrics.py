import json

import numpy as np
import pytest

from candle_tf.evaluate import format_table
from candle_tf.metrics import long_tailed_report, shot_groups
from candle_tf.workdir import write_json


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


def test_an_empty_group_is_null_in_json_and_said_in_the_table(tmp_path):
    # Every class capped to 2 training images and no rank ranges: many and medium are empty.
    counts = [2, 2, 2, 2]
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    predictions = np.array([0, 1, 1, 1, 2, 2, 0, 3])
    report = long_tailed_report(labels, predictions, counts)
    assert report["group_sizes"] == {"many": 0, "medium": 0, "few": 4}
    assert report["many"] is None and report["medium"] is None and report["few"] == 0.75
    write_json(str(tmp_path / "metrics.json"), {"student": report})

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    text = (tmp_path / "metrics.json").read_text()
    assert json.loads(text, parse_constant=refuse)["student"]["many"] is None
    table = format_table({"student": report})
    assert table.splitlines()[-1] == "| student | 75.00 | – (no classes) | – (no classes) | 75.00 |"
    # A group whose classes have no test image is None too, not NaN.
    few_untested = long_tailed_report(np.array([0, 1]), np.array([0, 1]), [150, 50, 5])
    assert few_untested["few"] is None and few_untested["per_class"][2] is None


def test_json_files_refuse_nan_and_leave_no_partial_file(tmp_path):
    path = tmp_path / "metrics.json"
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json(str(path), {"many": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_epoch_records_hold_null_for_a_nan_validation_loss(tmp_path):
    from candle_tf.selection import KeepBestWeights

    keeper = KeepBestWeights({}, str(tmp_path), save_weights=False)
    keeper.on_epoch_end(0, {"val_balanced_accuracy": 0.5, "val_loss": float("nan"), "loss": 1})
    record = json.loads((tmp_path / "last.json").read_text(), parse_constant=float)
    assert record["logs"] == {"val_balanced_accuracy": 0.5, "val_loss": None}
