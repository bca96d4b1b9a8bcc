"""``python -m candle_tf.data --dataset=places_lt --write_lists=DIR``: the published lists."""

import hashlib
import os
import subprocess
import sys

import pytest

from candle_tf.data.registry import DATASETS, load_dataset
from tests.data.places_lt_sample import lay_places_lt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# SHA-256 of the published Places-LT lists (facebookresearch/classifier-balancing, data/).
PLACES_LT_SHA256 = {
    "Places_LT_train.txt": "726c4871dcbf07ce2f857703bfe32e9a83ffbf52d704239f6d95c4f4f4c247f7",
    "Places_LT_val.txt": "719e3cf3766c09134ea28f56f1036c78def511ac1ed2c2532a6beef78f2439ba",
    "Places_LT_test.txt": "44eee8441c8098c59195465abede425721bc35525d75209f9433b161a6eb37bc",
}


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_write_lists_cli_writes_the_published_places_lt_lists(tmp_path):
    folder = tmp_path / "lists"
    result = subprocess.run(
        [sys.executable, "-m", "candle_tf.data", "--dataset=places_lt",
         f"--write_lists={folder}"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [f"{folder / 'Places_LT_train.txt'}: 62500 lines",
                                          f"{folder / 'Places_LT_val.txt'}: 7300 lines",
                                          f"{folder / 'Places_LT_test.txt'}: 36500 lines"]
    for name, digest in PLACES_LT_SHA256.items():
        assert sha256(folder / name) == digest
    # A folder holding them (plain text) is read instead of the shipped copies.
    lay_places_lt(str(folder), 2)
    capped = load_dataset("places_lt", data_dir=str(folder), images_per_class=2)
    assert capped.group_counts.sum() == 62500 and len(capped.train) == 730
    with pytest.raises(FileExistsError, match="Places_LT_train.txt, .* already there"):
        DATASETS["places_lt"].loader.write(str(folder))


def test_write_lists_refuses_sets_without_shipped_lists(tmp_path):
    with pytest.raises(FileNotFoundError, match="ships no copy of ImageNet_LT_train.txt"):
        DATASETS["imagenet_lt"].loader.write(str(tmp_path), "imagenet_lt")
    assert list(tmp_path.iterdir()) == []
    result = subprocess.run(
        [sys.executable, "-m", "candle_tf.data", "--dataset=cifar10_lt",
         f"--write_lists={tmp_path}"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 1 and result.stderr.strip().endswith(
        "error: --write_lists: cifar10_lt is not a list-file benchmark; those are "
        "imagenet_lt, inat2018, places_lt.")
