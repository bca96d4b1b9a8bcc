"""larq-zoo networks as CANDLE students: ``[logits, features]`` from a zoo backbone.

Each zoo model is built with ``weights=None`` (random initialisation: its ImageNet weights
download from the internet and expect 3-channel 224-px inputs) and ``include_top=False``;
a full-precision head (global average pool + Dense "logits") replaces the zoo's softmax top,
and the last feature map before the pooling is the second output, for the feature-similarity
loss. larq-zoo is imported on the first build only, since it pulls in TensorFlow Datasets.

One change to the published networks: binary convolutions that pad with zeros pad with +1
instead (``pad_values=1.0``, as QuickNet and ReActNet do). A binary input cannot be 0, so
LCE emulates zero padding with a correction, and LCE 0.16 gets it wrong when a conv's input
is smaller than its kernel (1x1 or 2x2 maps under a 3x3 kernel: outputs off by up to 24,
see tests/test_export.py), which small inputs such as 28-32 px produce.
"""

import importlib
from typing import Sequence

import larq as lq
import tensorflow as tf


def _pad_binary_convs_with_ones(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
    """A fresh copy of ``layer``; a zero-padded binary-input conv pads with +1 instead."""
    config = layer.get_config()
    if (isinstance(layer, lq.layers.QuantConv2D) and layer.input_quantizer is not None
            and config["padding"] == "same" and config["pad_values"] == 0.0):
        config["pad_values"] = 1.0
    return layer.__class__.from_config(config)


def zoo_backbone(module: str, function: str, input_shape: Sequence[int]) -> tf.keras.Model:
    """``larq_zoo.<module>.<function>`` without its top, with random weights and +1
    padding in its binary convs."""
    build = getattr(importlib.import_module(f"larq_zoo.{module}"), function)
    published = build(input_shape=tuple(input_shape), weights=None, include_top=False)
    return tf.keras.models.clone_model(published, clone_function=_pad_binary_convs_with_ones)


def zoo_student(module: str, function: str, input_shape: Sequence[int], num_classes: int,
                head_activation: str = "linear") -> tf.keras.Model:
    """A larq-zoo network with outputs ``[logits, features]``.

    Args:
        module, function: the zoo's model function, e.g. ``"sota", "QuickNet"``.
        input_shape: ``(height, width, channels)`` of the already-normalised image.
        num_classes: size of the "logits" Dense head.
        head_activation: what the zoo's own top applies to the last feature map before
            pooling ("relu" for QuickNet; "linear" where the backbone already ends in one).

    Returns:
        A ``tf.keras.Model`` named like the zoo model; its second output is named "features".
    """
    backbone = zoo_backbone(module, function, input_shape)
    features = tf.keras.layers.Activation(head_activation, name="features")(backbone.output)
    pooled = tf.keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = tf.keras.layers.Dense(num_classes, name="logits")(pooled)
    return tf.keras.Model(backbone.input, [logits, features], name=backbone.name)
