"""Derived LT sets take a balanced validation split out of their balanced test split.

Every class gets the same number of validation images (the old protocol took them from the
images the LT draw left out, so the head class, drawn whole, had none), validation and test
are disjoint and together are the original test split, and the LT training split is the
same as before.
"""

import collections
import dataclasses

import numpy as np
import pytest

from candle_tf.data import fashion_mnist
from candle_tf.data.protocols import derive_long_tailed
from candle_tf.data.registry import load_dataset
from candle_tf.data.lt_protocol import long_tailed_counts
from candle_tf.data.split import Split

FASHION_TRAIN_COUNTS = [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]


def _multiset(images):
    return collections.Counter(image.tobytes() for image in images)


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion_mnist_lt", imbalance_ratio=100, seed=0, val_per_class=100)


def test_fashion_mnist_lt_validation_covers_every_class(fashion):
    assert np.bincount(fashion.val.labels, minlength=10).tolist() == [100] * 10
    assert np.bincount(fashion.test.labels, minlength=10).tolist() == [900] * 10
    assert len(fashion.val) + len(fashion.test) == 10000
    assert fashion.train_counts.tolist() == FASHION_TRAIN_COUNTS


def test_fashion_mnist_lt_validation_and_test_partition_the_test_split(fashion):
    original = _multiset(fashion_mnist.load_split("test")[0])
    val, test = _multiset(fashion.val.images), _multiset(fashion.test.images)
    assert val + test == original  # every test image in exactly one of the two
    # Labels stay right after the frequency re-indexing (class names follow the ranks).
    images, labels = fashion_mnist.load_split("test")
    name_of = {image.tobytes(): fashion_mnist.CLASS_NAMES[label]
               for image, label in zip(images, labels)}
    assert all(name_of[image.tobytes()] == fashion.class_names[label]
               for image, label in zip(fashion.val.images[:200], fashion.val.labels[:200]))


def test_default_run_selects_on_100_images_of_every_class():
    from candle_tf import app_flags, builders
    from candle_tf.config import RunConfig

    preset = app_flags.read_flagfile(app_flags.preset_path("fashion_mnist_lt"))
    assert preset["val_per_class"] == "100"
    assert RunConfig().val_per_class == 20
    config = dataclasses.replace(RunConfig(), dataset="fashion_mnist_lt",
                                 val_per_class=int(preset["val_per_class"]))
    dataset = builders.dataset(config)
    assert np.bincount(dataset.val.labels, minlength=10).tolist() == [100] * 10
    assert len(dataset.test) == 9000


def test_fashion_mnist_lt_caps_and_errors():
    small = load_dataset("fashion_mnist_lt", imbalance_ratio=10, images_per_class=50, seed=0)
    assert small.train_counts.tolist() == [50, 38, 29, 23, 17, 13, 10, 8, 6, 5]
    assert np.bincount(small.val.labels, minlength=10).tolist() == [20] * 10
    assert np.bincount(small.test.labels, minlength=10).tolist() == [30] * 10
    # A cap takes at most half of each capped test class for validation.
    tiny = load_dataset("fashion_mnist_lt", imbalance_ratio=10, images_per_class=20, seed=0,
                        val_per_class=100)
    assert np.bincount(tiny.val.labels, minlength=10).tolist() == [10] * 10
    assert np.bincount(tiny.test.labels, minlength=10).tolist() == [10] * 10
    with pytest.raises(ValueError, match=r"class 't-shirt/top' \(label 0\) has 1000 test "
                                         r"image.*lower --val_per_class to at most 999"):
        load_dataset("fashion_mnist_lt", val_per_class=1000)


def _unique_images(ids):
    """One 2x2x1 image per id, its bytes encoding the id."""
    ids = np.asarray(ids)
    return np.stack([ids // 256, ids % 256, ids // 256, ids % 256], 1).reshape(
        -1, 2, 2, 1).astype(np.uint8)


def _ids(images):
    return set((images[:, 0, 0, 0].astype(int) * 256 + images[:, 0, 1, 0]).tolist())


def _balanced(per_class, classes, first_id=0):
    labels = np.repeat(np.arange(classes), per_class)
    return Split(_unique_images(first_id + np.arange(len(labels))), labels)


NAMES = tuple(f"class_{c}" for c in range(10))


def test_cifar_like_protocol_validation_from_test():
    # CIFAR-LT: n_max = all images of a class, so the head class has nothing left out.
    source, test = _balanced(50, 10), _balanced(30, 10, first_id=1000)
    dataset = derive_long_tailed("cifar10_lt", source, test, NAMES, 10, seed=0,
                                 val_per_class=8)
    assert dataset.train_counts.tolist() == long_tailed_counts(50, 10, 10)
    assert np.bincount(dataset.val.labels, minlength=10).tolist() == [8] * 10
    assert np.bincount(dataset.test.labels, minlength=10).tolist() == [22] * 10
    val, rest = _ids(dataset.val.images), _ids(dataset.test.images)
    assert not val & rest and val | rest == _ids(test.images)
    assert not val & _ids(dataset.train.images)
    # Re-indexed like the training split: a val image's rank names its original class.
    original = dict(zip(1000 + np.arange(len(test)), test.labels))
    ids = dataset.val.images[:, 0, 0, 0].astype(int) * 256 + dataset.val.images[:, 0, 1, 0]
    assert [NAMES[original[i]] for i in ids] == [dataset.class_names[l]
                                                for l in dataset.val.labels]
    # Seeded; the training split does not depend on val_per_class.
    again = derive_long_tailed("cifar10_lt", source, test, NAMES, 10, seed=0, val_per_class=8)
    assert np.array_equal(again.val.images, dataset.val.images)
    other = derive_long_tailed("cifar10_lt", source, test, NAMES, 10, seed=1, val_per_class=8)
    assert not np.array_equal(other.val.images, dataset.val.images)
    wide = derive_long_tailed("cifar10_lt", source, test, NAMES, 10, seed=0, val_per_class=20)
    assert np.array_equal(wide.train.images, dataset.train.images)
    # A cap: test capped first, then at most half of it becomes validation.
    capped = derive_long_tailed("cifar10_lt", source, test, NAMES, 10, seed=0,
                                images_per_class=10, val_per_class=8)
    assert np.bincount(capped.val.labels, minlength=10).tolist() == [5] * 10
    assert np.bincount(capped.test.labels, minlength=10).tolist() == [5] * 10


def test_too_small_a_test_split_is_an_error():
    source = _balanced(50, 10)
    labels = np.repeat(np.arange(10), [30, 30, 30, 10, 30, 30, 30, 30, 30, 30])
    short = Split(_unique_images(1000 + np.arange(len(labels))), labels)
    with pytest.raises(ValueError, match=r"class 'class_3' \(label 3\) has 10 test image.*"
                                         r"needs 21.*lower --val_per_class to at most 9"):
        derive_long_tailed("cifar10_lt", source, short, NAMES, 10, seed=0, val_per_class=20)
    assert len(derive_long_tailed("cifar10_lt", source, short, NAMES, 10, seed=0,
                                  val_per_class=9).val) == 90
    with pytest.raises(ValueError, match="--val_per_class=0: give at least 1"):
        derive_long_tailed("cifar10_lt", source, short, NAMES, 10, seed=0, val_per_class=0)


def test_derived_folder_set_takes_validation_from_its_test_folder(tmp_path):
    names = ("apple", "banana", "cherry")
    for split, count in (("train", 12), ("test", 5)):
        for name in names:
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):  # the derived protocol only lists the files
                (tmp_path / split / name / f"{i}.png").write_bytes(b"")
    dataset = load_dataset("fruits360_lt", str(tmp_path), imbalance_ratio=4, seed=0,
                           val_per_class=2)
    assert dataset.train_counts.tolist() == long_tailed_counts(12, 3, 4)
    assert np.bincount(dataset.val.labels, minlength=3).tolist() == [2] * 3
    assert np.bincount(dataset.test.labels, minlength=3).tolist() == [3] * 3
    val, test = set(dataset.val.paths), set(dataset.test.paths)
    assert not val & test
    assert val | test == {str(p) for p in (tmp_path / "test").glob("*/*.png")}
    assert all(p.split("/")[-2] == dataset.class_names[l]
               for p, l in zip(dataset.val.paths, dataset.val.labels))
    with pytest.raises(ValueError, match=r"has 5 test image.*lower --val_per_class to at "
                                         "most 4"):
        load_dataset("fruits360_lt", str(tmp_path), imbalance_ratio=4, val_per_class=5)
