"""tf.data pipelines: sampling, augmentation and same-crop multi-resolution views.

A training element is ``(views, label)`` where ``views`` maps a view name (e.g.
``"student"``, ``"teacher_0"``) to the same augmented crop resized to that view's size,
as float32 pixels in [0, 255]. Models normalise inside their own graphs.
"""

from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from candle_tf.data.image_files import decode_file
from candle_tf.data.split import Split
from candle_tf.data.preprocess import eval_transform

AUTOTUNE = tf.data.AUTOTUNE
AUGMENTATIONS = ("crop_flip", "rrc_flip_jitter", "none")


def class_balanced_indices(labels: np.ndarray, seed: int) -> tf.data.Dataset:
    """Infinite stream of positions where every class is equally likely per draw.

    A class is drawn uniformly, then one of its images uniformly, with stateless random
    ops keyed by (seed, step): no Python work per element, and any number of classes.
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    starts = tf.constant(np.concatenate([[0], np.cumsum(counts)[:-1]])[present], tf.int64)
    sizes = tf.constant(counts[present], tf.int64)
    order = tf.constant(order, tf.int64)
    num_present = len(present)

    def pick(step):
        u = tf.random.stateless_uniform([2], seed=tf.stack([tf.cast(seed, tf.int64), step]))
        cls = tf.minimum(tf.cast(u[0] * num_present, tf.int64), num_present - 1)
        within = tf.minimum(tf.cast(u[1] * tf.cast(sizes[cls], tf.float32), tf.int64),
                            sizes[cls] - 1)
        return order[starts[cls] + within]

    return tf.data.Dataset.counter().map(pick, num_parallel_calls=AUTOTUNE)


def shuffled_indices(num_examples: int, seed: int) -> tf.data.Dataset:
    """Infinite stream of positions, reshuffled every pass (instance-balanced sampling)."""
    return (tf.data.Dataset.range(num_examples)
            .shuffle(num_examples, seed=seed, reshuffle_each_iteration=True).repeat())


def _color_jitter(image: tf.Tensor, strength: float) -> tf.Tensor:
    lo, hi = 1.0 - strength, 1.0 + strength
    image = image * tf.random.uniform([], lo, hi)
    mean = tf.reduce_mean(image)
    image = (image - mean) * tf.random.uniform([], lo, hi) + mean
    if image.shape[-1] == 3:
        grey = tf.image.rgb_to_grayscale(image)
        image = (image - grey) * tf.random.uniform([], lo, hi) + grey
    return tf.clip_by_value(image, 0.0, 255.0)


def augment_crop(image: tf.Tensor, kind: str) -> tf.Tensor:
    """One random crop (+ flip, + jitter) of a float image, before any resizing.

    ``crop_flip``: pad by 1/8 of the side and crop back (CIFAR/MNIST style);
    ``rrc_flip_jitter``: RandomResizedCrop's box (area 8-100 %, aspect 3/4-4/3) and
    ColorJitter(0.4) for natural images; ``none``: the image unchanged.
    """
    if kind == "none":
        return image
    if kind == "crop_flip":
        shape = tf.shape(image)
        pad = tf.maximum(1, shape[0] // 8)
        padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.random_crop(padded, shape)
    elif kind == "rrc_flip_jitter":
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), tf.zeros([1, 0, 4]), min_object_covered=0.0,
            aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0),
            max_attempts=10, use_image_if_no_bounding_boxes=True)
        image = _color_jitter(tf.slice(image, begin, size), 0.4)
    else:
        raise ValueError(f"Unknown augmentation {kind!r}; use one of {AUGMENTATIONS}.")
    return tf.image.random_flip_left_right(image)


def resize_views(image: tf.Tensor, view_sizes: Dict[str, int]) -> Dict[str, tf.Tensor]:
    """The same image resized to every view size."""
    return {name: tf.image.resize(image, (size, size), method="bilinear", antialias=True)
            for name, size in view_sizes.items()}


def image_reader(split: Split, channels: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """index -> that image as float32 HxWxC: gathered from memory or decoded from its file."""
    if split.images is not None:
        images = tf.constant(split.images)
        return lambda index: tf.cast(tf.gather(images, index), tf.float32)
    paths = tf.constant(split.paths)
    return lambda index: tf.cast(decode_file(tf.gather(paths, index), channels), tf.float32)


def training_dataset(split: Split, batch_size: int, view_sizes: Dict[str, int],
                     augmentation: str = "crop_flip", class_balanced: bool = False,
                     seed: int = 0, channels: int = 3) -> tf.data.Dataset:
    """Infinite, batched ``(views, label)`` stream for ``model.fit(steps_per_epoch=...)``.

    ``channels`` is what image files are decoded to (in-memory images keep theirs).
    """
    read = image_reader(split, channels)
    labels = tf.constant(split.labels, tf.int64)
    indices = (class_balanced_indices(split.labels, seed) if class_balanced
               else shuffled_indices(len(split), seed))

    def load(index):
        crop = augment_crop(read(index), augmentation)
        return resize_views(crop, view_sizes), tf.gather(labels, index)

    return (indices.map(load, num_parallel_calls=AUTOTUNE)
            .batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE))


def evaluation_dataset(split: Split, batch_size: int, view_sizes: Dict[str, int],
                       crop_fraction: float = 1.0, channels: int = 3) -> tf.data.Dataset:
    """One ordered pass of ``(views, label)`` with the deterministic evaluation transform."""
    read = image_reader(split, channels)

    def load(index, label):
        image = read(index)
        return {name: eval_transform(image, size, crop_fraction)
                for name, size in view_sizes.items()}, label

    return (tf.data.Dataset.from_tensor_slices((np.arange(len(split)), split.labels))
            .map(load, num_parallel_calls=AUTOTUNE).batch(batch_size).prefetch(AUTOTUNE))


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Training steps in one epoch (at least one)."""
    return max(1, num_examples // batch_size)
