"""Decoding a batch of uploaded image bytes where each image succeeds or fails on its own.

A graph has no try/except, and ``tf.io.decode_image`` on one bad image fails the whole
batch (so TF Serving answers every image in the request with that error). Here the first
bytes are checked with ops that cannot fail (empty input, unknown format), and the rest
decode in a ``tf.data`` pipeline whose ``ignore_errors`` drops an image the decoder
rejects (corrupt or truncated data behind a valid header): each row carries its batch
index, so the images that decoded go back in place and the others get a message.

>>> png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8))
>>> pixels, indices, valid, error = decode_images(
...     tf.stack([png, b"", b"junk", tf.strings.substr(png, 0, 20)]),
...     lambda data: tf.image.resize(tf.io.decode_image(data, 3, expand_animations=False),
...                                  (8, 8)),
...     tf.TensorSpec([8, 8, 3], tf.float32))
>>> pixels.shape, indices.numpy(), valid.numpy()
(TensorShape([1, 8, 8, 3]), array([0], dtype=int32), array([ True, False, False, False]))
>>> [message.decode() for message in error.numpy()]  # doctest: +NORMALIZE_WHITESPACE
['', 'empty input', 'not a PNG, JPEG, GIF or BMP image (unrecognised first bytes)',
 'could not decode the PNG bytes (corrupt or truncated?)']
"""

from typing import Callable

import tensorflow as tf

# What ``tf.io.decode_image`` decodes, told apart by the same first bytes it checks.
IMAGE_FORMATS = (("PNG", b"\x89PNG\r\n\x1a\n"), ("JPEG", b"\xff\xd8\xff"), ("GIF", b"GIF8"),
                 ("BMP", b"BM"))
EMPTY_INPUT = "empty input"
UNKNOWN_FORMAT = "not a PNG, JPEG, GIF or BMP image (unrecognised first bytes)"
UNDECODABLE = "could not decode the {} bytes (corrupt or truncated?)"


def image_format(images: tf.Tensor) -> tf.Tensor:
    """int32 [N]: each encoded image's index in ``IMAGE_FORMATS``, -1 if its first bytes
    match none. Cannot fail, whatever the bytes (empty ones included)."""
    found = tf.fill(tf.shape(images), -1)
    for index, (_, magic) in reversed(list(enumerate(IMAGE_FORMATS))):
        # substr from 0 clips at the end of a short string instead of failing.
        match = tf.equal(tf.strings.substr(images, 0, len(magic)), magic)
        found = tf.where(match, index, found)
    return found


def decode_images(images: tf.Tensor, decode: Callable[[tf.Tensor], tf.Tensor],
                  pixels_spec: tf.TensorSpec):
    """Decodes a 1-D string batch of N encoded images without letting one fail the rest.

    ``decode`` maps one image's bytes to pixels matching ``pixels_spec`` and may raise.
    Returns ``(pixels, indices, valid, error)``: ``pixels`` [K, ...] of the K images that
    decoded, ``indices`` int32 [K] their rows in ``images`` (ascending), ``valid`` bool
    [N], ``error`` string [N]: "" where valid, else ``EMPTY_INPUT``, ``UNKNOWN_FORMAT`` or
    ``UNDECODABLE`` with the format's name.
    """
    size = tf.shape(images)[0]
    formats = image_format(images)
    candidates = tf.cast(tf.where(formats >= 0)[:, 0], tf.int32)
    decoded = (tf.data.Dataset.from_tensor_slices((candidates, tf.gather(images, candidates)))
               .map(lambda index, data: (index, decode(data)),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .ignore_errors())
    # get_single_element fails on an empty data set: a dummy last row, dropped below.
    dummy = tf.data.Dataset.from_tensors((tf.constant(-1, tf.int32),
                                          tf.zeros(pixels_spec.shape, pixels_spec.dtype)))
    indices, pixels = decoded.concatenate(dummy).batch(
        tf.cast(size, tf.int64) + 1).get_single_element()
    indices, pixels = indices[:-1], pixels[:-1]
    valid = tf.scatter_nd(indices[:, None], tf.ones_like(indices), [size]) > 0
    undecodable = tf.gather([UNDECODABLE.format(name) for name, _ in IMAGE_FORMATS],
                            tf.maximum(formats, 0))
    error = tf.where(valid, "", tf.where(tf.equal(tf.strings.length(images), 0), EMPTY_INPUT,
                                         tf.where(formats < 0, UNKNOWN_FORMAT, undecodable)))
    return pixels, indices, valid, error
