"""tf.data training stream: same-crop multi-resolution views and the two samplers."""

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.data.pipeline import training_dataset
from candle_tf.data.split import Split

VIEW_SIZES = {"student": 28, "teacher_0": 96, "teacher_1": 64, "teacher_2": 32}
# Per-class counts from 5000 down to 5 (imbalance ratio 1000).
COUNTS = np.array([5000, 1500, 500, 150, 50, 15, 5])
# Chi-square critical value for 6 degrees of freedom at p = 0.001.
CHI2_DF6_P001 = 22.46


def smooth_images(count: int, seed: int = 0) -> np.ndarray:
    """Random 28x28 grey images with 7x7 detail (resampling them loses little)."""
    coarse = np.random.default_rng(seed).uniform(0, 255, (count, 7, 7, 1)).astype(np.float32)
    fine = tf.image.resize(coarse, (28, 28), method="bicubic")
    return tf.cast(tf.clip_by_value(fine, 0, 255), tf.uint8).numpy()


def view_errors(views):
    """Per view below the largest: mean |downsampled largest - view| per element, and the
    same against the next element's view."""
    largest = max(views, key=lambda name: views[name].shape[1])
    errors = {}
    for name, view in views.items():
        if name == largest:
            continue
        size = view.shape[1]
        down = tf.image.resize(views[largest], (size, size), antialias=True)
        same = tf.reduce_mean(tf.abs(down - view), axis=[1, 2, 3]).numpy()
        other = tf.reduce_mean(tf.abs(down - tf.roll(view, 1, axis=0)), axis=[1, 2, 3]).numpy()
        errors[name] = same, other
    return errors


def first_batch(split, batch_size, view_sizes, **kwargs):
    return next(iter(training_dataset(split, batch_size, view_sizes, channels=1, **kwargs)))


def drawn_labels(labels, batches, class_balanced, seed=0, batch_size=1000):
    """Labels of the first batches of the training stream over tiny images."""
    split = Split(np.zeros((len(labels), 2, 2, 1), np.uint8), labels)
    stream = training_dataset(split, batch_size, {"student": 2}, augmentation="none",
                              class_balanced=class_balanced, seed=seed, channels=1)
    return np.concatenate([y.numpy() for _, y in stream.take(batches)])


@pytest.fixture(scope="module")
def long_tailed_labels():
    return np.random.default_rng(0).permutation(np.repeat(np.arange(len(COUNTS)), COUNTS))


def test_views_of_an_element_are_one_crop_and_differ_from_other_elements():
    views, _ = first_batch(Split(smooth_images(32), np.arange(32) % 10), 32, VIEW_SIZES,
                           augmentation="crop_flip")
    assert {name: v.shape[1] for name, v in views.items()} == VIEW_SIZES
    for name, (same, other) in view_errors(views).items():
        assert same.max() < 10, name  # pixel scale 0-255
        assert other.min() > 40, name


def test_views_share_the_crop_not_just_the_image():
    # One image, so elements differ only by their random crop and flip.
    views, _ = first_batch(Split(np.repeat(smooth_images(1), 32, 0), np.zeros(32, int)), 32,
                           VIEW_SIZES, augmentation="crop_flip")
    for name, (same, other) in view_errors(views).items():
        assert same.max() < 10, name
        assert other.mean() > 30, name  # a few pairs may draw the same crop


def test_a_single_resolution_is_one_view():
    views, labels = first_batch(Split(smooth_images(8), np.arange(8)), 4, {"teacher_0": 64},
                                augmentation="crop_flip")
    assert list(views) == ["teacher_0"]
    assert views["teacher_0"].shape == (4, 64, 64, 1) and labels.shape == (4,)
    assert 0 <= float(tf.reduce_min(views["teacher_0"]))
    assert float(tf.reduce_max(views["teacher_0"])) <= 255


def test_class_balanced_stream_is_near_uniform_over_classes(long_tailed_labels):
    drawn = drawn_labels(long_tailed_labels, 21, class_balanced=True)
    observed = np.bincount(drawn, minlength=len(COUNTS))
    expected = len(drawn) / len(COUNTS)
    assert np.sum((observed - expected) ** 2 / expected) < CHI2_DF6_P001
    # Instance-balanced sampling would give the rarest class 21000 * 5 / 7220 = 15 draws.
    assert observed[-1] > 2500


def test_class_balanced_stream_is_deterministic_for_a_seed(long_tailed_labels):
    first = drawn_labels(long_tailed_labels, 5, class_balanced=True, seed=3)
    assert np.array_equal(first, drawn_labels(long_tailed_labels, 5, True, seed=3))
    assert not np.array_equal(first, drawn_labels(long_tailed_labels, 5, True, seed=4))


def test_instance_balanced_stream_follows_the_label_frequencies(long_tailed_labels):
    # Three batches of the split's size are three passes: every image drawn three times.
    drawn = drawn_labels(long_tailed_labels, 3, class_balanced=False,
                         batch_size=len(long_tailed_labels))
    assert np.bincount(drawn).tolist() == (3 * COUNTS).tolist()
