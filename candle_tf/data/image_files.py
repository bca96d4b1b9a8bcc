"""Image files in tf.data: decoding, and a readability scan that skips corrupt files."""

from typing import Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from candle_tf.data.split import Split


def decode_file(path: tf.Tensor, channels: int) -> tf.Tensor:
    """A JPEG/PNG/BMP/GIF file as a uint8 HxWxC tensor with ``channels`` channels."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                               expand_animations=False)
    image.set_shape([None, None, channels])
    return image


def readable(paths: np.ndarray, channels: int) -> np.ndarray:
    """Boolean mask of the files that decode (in parallel, in tf.data)."""
    indexed = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
    decoded = indexed.map(lambda i, p: (i, tf.shape(decode_file(p, channels))[0]),
                          num_parallel_calls=tf.data.AUTOTUNE)
    survivors = decoded.ignore_errors().map(lambda i, _: i)
    mask = np.zeros(len(paths), dtype=bool)
    mask[[int(i) for i in survivors.batch(4096).unbatch().as_numpy_iterator()]] = True
    return mask


def drop_unreadable(split: Split, channels: int, name: str) -> Tuple[Split, int]:
    """The split without files that do not decode, and how many were skipped (logged)."""
    mask = readable(split.paths, channels)
    skipped = int((~mask).sum())
    if skipped:
        first = ", ".join(split.paths[~mask][:3])
        logging.warning("%s split: skipped %d unreadable image(s), e.g. %s", name, skipped, first)
        print(f"{name} split: skipped {skipped} unreadable image(s), e.g. {first}", flush=True)
    return split.subset(np.flatnonzero(mask)), skipped
