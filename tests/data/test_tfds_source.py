"""The TFDS source on tiny data sets built with TFDS's own builder API (no download)."""

import numpy as np
import tensorflow_datasets as tfds

from candle_tf.data.protocols import derive_long_tailed
from candle_tf.data.lt_protocol import long_tailed_counts
from candle_tf.data.pipeline import evaluation_dataset
from candle_tf.data.tfds_source import load_tfds_split

NAMES = ["circle", "square", "triangle", "star"]
PER_CLASS = {"train": 60, "test": 10}


def _examples(split, sizes):
    for i in range(PER_CLASS[split] * len(NAMES)):
        size = sizes[i % len(sizes)]
        yield i, {"image": np.full((size, size, 3), i % 251, np.uint8), "label": i % len(NAMES)}


class CandleTinyFixed(tfds.core.GeneratorBasedBuilder):
    """Fixed-size images: read into memory."""

    VERSION = tfds.core.Version("1.0.0")
    SIZES = [8]

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(8, 8, 3)),
            "label": tfds.features.ClassLabel(names=NAMES)}))

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in PER_CLASS}

    def _generate_examples(self, split):
        yield from _examples(split, self.SIZES)


class CandleTinyVariable(CandleTinyFixed):
    """Images of several sizes: written once as files."""

    SIZES = [6, 9, 12]

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3)),
            "label": tfds.features.ClassLabel(names=NAMES)}))


def test_fixed_size_split_is_read_into_memory(tmp_path, capsys):
    split, names = load_tfds_split("candle_tiny_fixed", "train", str(tmp_path))
    assert names == tuple(NAMES) and split.images.shape == (240, 8, 8, 3)
    assert np.bincount(split.labels).tolist() == [60] * 4
    assert "is not prepared" in capsys.readouterr().out  # says why a download may wait
    load_tfds_split("candle_tiny_fixed", "test", str(tmp_path))
    assert "is not prepared" not in capsys.readouterr().out  # prepared: no download


def test_variable_size_split_becomes_files_and_derives_an_lt_set(tmp_path):
    source, names = load_tfds_split("candle_tiny_variable", "train", str(tmp_path))
    test, _ = load_tfds_split("candle_tiny_variable", "test", str(tmp_path))
    assert source.images is None and len(source.paths) == 240
    dataset = derive_long_tailed("tiny_lt", source, test, names, 6, seed=0, channels=3,
                                 val_per_class=2)
    assert dataset.train_counts.tolist() == long_tailed_counts(60, 4, 6) == [60, 33, 18, 10]
    assert np.bincount(dataset.test.labels).tolist() == [8] * 4
    assert np.bincount(dataset.val.labels, minlength=4).tolist() == [2] * 4
    views, labels = next(iter(evaluation_dataset(dataset.test, 32, {"student": 16})))
    assert views["student"].shape == (32, 16, 16, 3)
