"""Image transforms shared by training, evaluation and the serving export.

Every model in this project takes raw pixels (float32 in [0, 255]) and normalises
inside its own graph, so the same transform serves evaluation, the LCE interpreter
and TF Serving.
"""

import tensorflow as tf


def to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """Converts an HxWx1 or HxWx3 image to ``channels`` (1 or 3) channels."""
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(f"Cannot convert an image with {have} channels to {channels}.")


def eval_transform(image: tf.Tensor, size: int, crop_fraction: float = 1.0) -> tf.Tensor:
    """Deterministic evaluation transform of one HxWxC image to ``size`` x ``size``.

    With ``crop_fraction == 1`` the image is resized to ``size``. With a fraction below 1
    (0.875 = the usual "resize 256, center-crop 224"), the shorter side is resized to
    ``size / crop_fraction`` and the central ``size`` x ``size`` window is kept.
    Returns float32 pixels in [0, 255].
    """
    image = tf.cast(image, tf.float32)
    if crop_fraction >= 1.0:
        return tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = (size / crop_fraction) / tf.reduce_min(shape)
    resized_hw = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    image = tf.image.resize(image, resized_hw, method="bilinear", antialias=True)
    offset = (resized_hw - size) // 2
    return tf.image.crop_to_bounding_box(image, offset[0], offset[1], size, size)
