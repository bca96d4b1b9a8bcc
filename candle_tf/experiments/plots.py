"""PNG plots of the grid's results: per-class accuracy and classifier weight norm by class
frequency rank (the paper's Figs. 3-4), lambda over training (Fig. 6), and the students'
validation curves."""

from typing import Dict, List

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAX_POINTS = 2000  # per lambda curve


def _by_rank(results: dict, key: str, ylabel: str, title: str, path: str,
             normalise: bool = False) -> None:
    """One panel per method: ``key`` over the class frequency rank, with the calibrated
    teacher(s) in grey for reference. Same axes in every panel."""
    ranks = np.arange(len(results["train_counts"]))
    scale = (lambda v: v / np.nanmax(v)) if normalise else (lambda v: v)  # noqa: E731
    teachers = [(name, scale(np.asarray(row[key], float)))
                for name, row in results["teachers"].items()]
    rows = list(results["rows"].items())
    columns = min(4, len(rows))
    panel_rows = -(-len(rows) // columns)
    figure, axes = plt.subplots(panel_rows, columns, sharex=True, sharey=True, squeeze=False,
                                figsize=(3.2 * columns, 2.4 * panel_rows + 0.8))
    for axis, (name, row) in zip(axes.flat, rows):
        for (teacher, values), style in zip(teachers, ("--", ":")):
            axis.plot(ranks, values, style, color="0.5", linewidth=1, label=teacher)
        axis.plot(ranks, scale(np.asarray(row[key], float)), "-o", markersize=3, label=name)
        axis.set_title(name, fontsize=9)
        axis.grid(alpha=0.3)
    for axis in axes.flat[len(rows):]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("class frequency rank", fontsize=8)
    for axis in axes[:, 0]:
        axis.set_ylabel(ylabel, fontsize=8)
    if teachers:
        axes.flat[0].legend(fontsize=6, loc="lower left")
    figure.suptitle(f"{title}\nrank 0 = most training images; grey: calibrated teacher(s)",
                    fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def per_class_accuracy(results: dict, path: str) -> None:
    """Test accuracy of each class (mean over seeds) against its frequency rank."""
    _by_rank(results, "per_class", "test accuracy",
             "Per-class accuracy by frequency rank", path)


def classifier_weight_norms(results: dict, path: str) -> None:
    """Norm of each class's classifier weight vector, divided by the method's largest."""
    _by_rank(results, "classifier_norms", "classifier weight norm / largest",
             "Classifier weight norm per class", path, normalise=True)


def lambda_over_training(curves: Dict[str, Dict[int, Dict[int, float]]], path: str) -> None:
    """lambda at every training step, one line per (method, seed) with a balancer."""
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for name, seeds in curves.items():
        for seed, steps in sorted(seeds.items()):
            x = np.array(sorted(steps))
            y = np.array([steps[s] for s in x])
            every = max(1, len(x) // MAX_POINTS)
            axis.plot(x[::every], y[::every], linewidth=1, marker="." if len(x) < 50 else None,
                      label=f"{name}, seed {seed}")
    axis.set_ylim(0, 1)
    axis.set_xlabel("training step")
    axis.set_ylabel("lambda = w1 (weight of L_KL; the other term gets 1 - w1)")
    axis.set_title("Adversarial balancer: lambda over training")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def validation_curves(curves: Dict[str, List[List[float]]], path: str) -> None:
    """Validation balanced accuracy after every epoch, mean over seeds, one line per method."""
    figure, axis = plt.subplots(figsize=(9, 5))
    for name, seeds in curves.items():
        epochs = min(len(curve) for curve in seeds)
        mean = np.mean([curve[:epochs] for curve in seeds], axis=0)
        axis.plot(np.arange(1, epochs + 1), 100 * mean, marker=".",
                  linestyle="--" if name.startswith("candle_") else "-",
                  label=f"{name} ({len(seeds)} seeds)")
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation balanced accuracy (%)")
    axis.set_title("Students on the validation split (mean over seeds)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
