"""A data set's numbers: classes, split sizes, imbalance, many / medium / few, count plot."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from candle_tf.data.dataset import LongTailedDataset  # noqa: E402
from candle_tf.metrics import shot_groups  # noqa: E402


def statistics(dataset: LongTailedDataset) -> dict:
    """The numbers ``--stats`` prints."""
    counts = dataset.train_counts
    groups = shot_groups(dataset.group_counts, dataset.rank_ranges)
    return {
        "classes": dataset.num_classes,
        "images": {"train": len(dataset.train), "val": len(dataset.val),
                   "test": len(dataset.test)},
        "n_max": int(counts.max()), "n_min": int(counts.min()),
        "imbalance_ratio": float(counts.max() / counts.min()),
        "many_medium_few": {group: len(ids) for group, ids in groups.items()},
        "skipped_unreadable": dataset.skipped or {},
    }


def plot_counts(dataset: LongTailedDataset, path: str) -> None:
    """Bar plot of training images per class, by frequency rank (log scale)."""
    figure, axis = plt.subplots(figsize=(8, 3.5))
    axis.bar(range(dataset.num_classes), dataset.train_counts, width=1.0)
    axis.set_yscale("log")
    axis.set_xlabel("class (frequency rank)")
    axis.set_ylabel("training images")
    axis.set_title(f"{dataset.name}: {len(dataset.train)} training images")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
