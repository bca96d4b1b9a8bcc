"""``python -m candle_tf.data --dataset=NAME``: a data set's numbers, without training; or
``--write_lists=DIR``: its published list files, as plain text.

Flags not given take the values of the data set's preset ``flags/NAME.cfg``, as in
``python -m candle_tf.train``. ``--stats`` (default) prints classes, images per split,
n_max, n_min, the imbalance ratio and the many / medium / few group sizes, and writes a
per-class training-count plot (PNG).
``--write_lists=DIR`` writes the list files that ship with candle_tf for a list-file
benchmark (places_lt) into DIR, and does nothing else.
"""

import os
import sys

from absl import app, flags

from candle_tf.app_flags import apply_preset
from candle_tf.data.list_files import PublishedLists
from candle_tf.data.registry import DATASETS, load_dataset, registered_names
from candle_tf.data.stats import plot_counts, statistics

flags.DEFINE_string("dataset", "fashion_mnist_lt", f"One of {registered_names()}.")
flags.DEFINE_string("data_dir", "", "Where the data set's files are.")
flags.DEFINE_float("imbalance_ratio", 100.0, "n_max / n_min for derived LT sets.")
flags.DEFINE_integer("seed", 0, "Seed of the LT draw.")
flags.DEFINE_integer("val_per_class", 20, "Validation images per class a derived LT set "
                     "takes from its test split.")
flags.DEFINE_bool("stats", True, "Print the statistics and write the plot.")
flags.DEFINE_string("plot", "", "Where to write the PNG (default: <dataset>_counts.png).")
flags.DEFINE_string("write_lists", "", "Write the published list files shipped with "
                    "candle_tf for --dataset (places_lt) into this folder, as plain text, "
                    "and exit; an existing file is not overwritten.")
FLAGS = flags.FLAGS


def write_lists(name: str, folder: str) -> list:
    """Writes ``name``'s shipped list files into ``folder``; returns their paths."""
    spec = DATASETS.get(name)
    if spec is None or not isinstance(spec.loader, PublishedLists):
        benchmarks = sorted(n for n, s in DATASETS.items() if isinstance(s.loader, PublishedLists))
        raise ValueError(f"--write_lists: {name} is not a list-file benchmark; those are "
                         f"{', '.join(benchmarks)}.")
    return spec.loader.write(folder, name)


def main(argv):
    del argv
    try:
        apply_preset(FLAGS, only_defined=True)  # the same split as `candle_tf.train`'s
        if FLAGS.write_lists:
            for path in write_lists(FLAGS.dataset, FLAGS.write_lists):
                with open(path) as handle:
                    lines = sum(1 for _ in handle)
                print(f"{os.path.abspath(path)}: {lines} lines")
            return 0
        dataset = load_dataset(FLAGS.dataset, FLAGS.data_dir, FLAGS.imbalance_ratio, FLAGS.seed,
                               val_per_class=FLAGS.val_per_class)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as error:
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
