"""Stage 3: top-1, many / medium / few and per-class accuracy on the balanced test set."""

from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.split import Split
from candle_tf.data.pipeline import evaluation_dataset
from candle_tf.metrics import long_tailed_report


def predict_logits(model: tf.keras.Model, split: Split, view_sizes: Dict[str, int],
                   batch_size: int, crop_fraction: float = 1.0, channels: int = 3) -> np.ndarray:
    """Logits of ``model`` (views in its input order -> logits first) on a split."""

    @tf.function(reduce_retracing=True)
    def logits(views):
        outputs = model([views[name] for name in view_sizes], training=False)
        return outputs[0] if isinstance(outputs, (list, tuple)) else outputs

    return np.concatenate([
        logits(views).numpy() for views, _ in
        evaluation_dataset(split, batch_size, view_sizes, crop_fraction, channels)])


def predict(model: tf.keras.Model, split: Split, view_sizes: Dict[str, int],
            batch_size: int, crop_fraction: float = 1.0, channels: int = 3) -> np.ndarray:
    """Predicted classes of ``model`` on a split."""
    return predict_logits(model, split, view_sizes, batch_size, crop_fraction,
                          channels).argmax(axis=-1)


def evaluate(model: tf.keras.Model, dataset: LongTailedDataset, view_sizes: Dict[str, int],
             batch_size: int, crop_fraction: float = 1.0) -> dict:
    """The long-tailed report of ``model`` on the test split, plus balanced val top-1.

    Many / medium / few are defined on ``dataset.group_counts`` (a list-file set's
    published counts, whatever the --images_per_class cap)."""
    report = long_tailed_report(
        dataset.test.labels, predict(model, dataset.test, view_sizes, batch_size, crop_fraction,
                                       dataset.channels),
        dataset.group_counts, dataset.rank_ranges)
    val_predictions = predict(model, dataset.val, view_sizes, batch_size, crop_fraction,
                              dataset.channels)
    report["val_top1"] = float(np.mean(val_predictions == dataset.val.labels))
    return report


NO_CLASSES = "– (no classes)"


def format_table(reports: Dict[str, dict], columns: Sequence[str] = (
        "top1", "many", "medium", "few")) -> str:
    """A Markdown table of the reports, one row per model, accuracies in %; an empty
    many / medium / few group (None) reads "– (no classes)"."""
    def cell(value):
        return NO_CLASSES if value is None else f"{100 * value:.2f}"

    header = "| model | " + " | ".join(columns) + " |"
    rule = "|---" * (len(columns) + 1) + "|"
    rows = [f"| {name} | " + " | ".join(cell(report[c]) for c in columns) + " |"
            for name, report in reports.items()]
    return "\n".join([header, rule] + rows)
