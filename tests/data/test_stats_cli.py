import subprocess
import sys

from candle_tf.data.stats import statistics
from candle_tf.data.registry import load_dataset


def test_statistics_of_the_default_set():
    stats = statistics(load_dataset("fashion_mnist_lt"))
    assert stats["images"] == {"train": 14886, "val": 200, "test": 9800}
    assert (stats["n_max"], stats["n_min"], stats["imbalance_ratio"]) == (6000, 60, 100.0)
    assert stats["many_medium_few"] == {"many": 3, "medium": 4, "few": 3}


def test_stats_cli_prints_and_plots(tmp_path):
    plot = tmp_path / "counts.png"
    result = subprocess.run([sys.executable, "-m", "candle_tf.data", "--dataset=fashion_mnist_lt",
                             "--stats", f"--plot={plot}"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "n_max: 6000" in result.stdout and "imbalance_ratio: 100.0" in result.stdout
    # the preset's --val_per_class=100, as in the default training run
    assert "images: {'train': 14886, 'val': 1000, 'test': 9000}" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "candle_tf.data", "--dataset=nope"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "fashion_mnist_lt, flowers_lt" in bad.stderr
