"""The default data set on the real Fashion-MNIST files (Debian's dataset-fashion-mnist)."""

import re

import numpy as np
import pytest

from candle_tf.data import fashion_mnist
from candle_tf.data.registry import load_dataset


# How derived and natively long-tailed sets refuse a class without training images.
UNTRAINED = re.compile(r"(\S+): (\d+) class\(es\) have no training image, e\.g\. '(.+)' "
                       r"\(label (\d+)\); (.+)\.$")


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("fashion_mnist_lt", imbalance_ratio=100, seed=0)


def test_only_the_train_split_is_long_tailed(dataset):
    assert dataset.train_counts.tolist() == [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100,
                                             60]
    # Validation takes 20 images of every class (--val_per_class) out of the balanced
    # 10,000-image test split; the test figures use the other 980 per class.
    assert np.bincount(dataset.test.labels).tolist() == [980] * 10
    assert np.bincount(dataset.val.labels, minlength=10).tolist() == [20] * 10
    assert len(dataset.source_train) == 60000
    assert dataset.train.images.shape[1:] == (28, 28, 1)


def test_validation_images_are_not_training_images(dataset):
    train = {img.tobytes() for img in dataset.train.images}
    assert not any(img.tobytes() in train for img in dataset.val.images)


def test_images_per_class_caps_sources(dataset):
    small = load_dataset("fashion_mnist_lt", imbalance_ratio=10, images_per_class=50, seed=0)
    assert small.train_counts.tolist() == [50, 38, 29, 23, 17, 13, 10, 8, 6, 5]
    assert len(small.test) == 300  # 50 per class, 20 of them taken for validation
    assert np.bincount(small.source_train.labels).tolist() == [50] * 10


def test_pretraining_cap_is_separate_from_the_lt_cap(dataset):
    small = load_dataset("fashion_mnist_lt", imbalance_ratio=10, images_per_class=50, seed=0)
    wide = load_dataset("fashion_mnist_lt", imbalance_ratio=10, images_per_class=50, seed=0,
                        pretrain_images_per_class=120)
    assert np.bincount(wide.source_train.labels).tolist() == [120] * 10
    assert wide.train_counts.tolist() == small.train_counts.tolist()
    assert np.array_equal(wide.train.images, small.train.images)
    assert np.array_equal(wide.test.images, small.test.images)


def test_unknown_name_and_missing_files_have_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Known: aircraft_lt, caltech101_lt, .*fashion_mnist_lt"):
        load_dataset("fashion_mnst_lt")
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        fashion_mnist.load_split("train", str(tmp_path))


def test_a_cap_that_leaves_classes_without_training_images_is_refused():
    with pytest.raises(ValueError) as error:  # the profile: 50 ... 1, 0, 0 per class
        load_dataset("fashion_mnist_lt", imbalance_ratio=100, images_per_class=50, seed=0)
    name, empty, cls, label, fix = UNTRAINED.match(str(error.value)).groups()
    assert (name, empty, cls, label) == ("fashion_mnist_lt", "2", "bag", "8")
    assert fix.endswith("(n_max = 50, the --images_per_class cap): raise --images_per_class "
                        "to at least 100 or lower --imbalance_ratio to at most 50")
    # Either fix gives every class an image.
    for cap, ratio in ((100, 100), (50, 50)):
        counts = load_dataset("fashion_mnist_lt", imbalance_ratio=ratio, images_per_class=cap,
                              seed=0).train_counts
        assert counts.min() == 1 and counts.max() == cap
    with pytest.raises(ValueError, match=r"int\(6000 / 10000\) = 0 images \(n_max = 6000\): "
                                         r"lower --imbalance_ratio to at most 6000\.$"):
        load_dataset("fashion_mnist_lt", imbalance_ratio=10000, seed=0)
