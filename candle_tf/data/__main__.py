"""``python -m candle_tf.data --dataset=NAME --stats``: a data set's numbers, without training.

Prints classes, images per split, n_max, n_min, the imbalance ratio and the many / medium /
few group sizes, and writes a per-class training-count plot (PNG).
"""

import os
import sys

from absl import app, flags

from candle_tf.data.registry import load_dataset
from candle_tf.data.stats import plot_counts, statistics

flags.DEFINE_string("dataset", "fashion_mnist_lt", "Registered name, folder:PATH or "
                    "list:TRAIN.txt,TEST.txt.")
flags.DEFINE_string("data_dir", "", "Where the data set's files are.")
flags.DEFINE_float("imbalance_ratio", 100.0, "n_max / n_min for derived LT sets.")
flags.DEFINE_integer("seed", 0, "Seed of the LT draw.")
flags.DEFINE_integer("val_per_class", 20, "Validation images per class a derived LT set "
                     "takes from its test split (flags/fashion_mnist_lt.cfg: 100).")
flags.DEFINE_bool("stats", True, "Print the statistics and write the plot.")
flags.DEFINE_string("plot", "", "Where to write the PNG (default: <dataset>_counts.png).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        dataset = load_dataset(FLAGS.dataset, FLAGS.data_dir, FLAGS.imbalance_ratio, FLAGS.seed,
                               val_per_class=FLAGS.val_per_class)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stats = statistics(dataset)
    for key, value in stats.items():
        print(f"{key:>18}: {value}")
    path = FLAGS.plot or f"{FLAGS.dataset.replace(':', '_').replace('/', '_')}_counts.png"
    plot_counts(dataset, path)
    print(f"{'plot':>18}: {os.path.abspath(path)}")
    return 0


if __name__ == "__main__":
    app.run(main)
