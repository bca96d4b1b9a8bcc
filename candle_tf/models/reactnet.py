"""ReActNet-A (Liu et al., ECCV 2020): the binary MobileNet-like student.

A full-precision stem (3x3 conv + BN), 13 binary blocks and a full-precision head
(global average pool + Dense "logits"). Every binary conv is a larq `QuantConv2D` with
`padding="same", pad_values=1.0, use_bias=False`, so Larq Compute Engine turns each one
into an `LceBconv2d` (the official PyTorch code pads with 0, which is not a binary value).

>>> model = reactnet_a((32, 32, 3), num_classes=10, width_multiplier=0.25, stem_stride=1)
>>> [tuple(t.shape) for t in model.outputs]
[(None, 10), (None, 2, 2, 256)]
"""

from typing import Sequence

import larq as lq
import tensorflow as tf

from candle_tf.models.layers import LearnableBias, RPReLU

# Output channels of the 13 blocks at width 1; the stem has 32.
BLOCK_CHANNELS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
STEM_CHANNELS = 32
# PyTorch's BatchNorm2d defaults, which the official code trains with.
_BN = dict(momentum=0.9, epsilon=1e-5)


def block_widths(width_multiplier: float = 1.0) -> tuple:
    """Stem and block output channels for a width multiplier.

    The stem gets `32 * width_multiplier` rounded to a multiple of 8 (at least 8); every
    block keeps its width-1 ratio to the stem, so each block still keeps or doubles its
    input channels (the structure ReActNet-A's blocks need) for any multiplier.
    """
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be > 0, got {width_multiplier}.")
    stem = max(8, 8 * int(STEM_CHANNELS * width_multiplier / 8 + 0.5))
    return (stem, *(stem * c // STEM_CHANNELS for c in BLOCK_CHANNELS))


def _binary_conv(filters, kernel_size, strides, binary_weights, name):
    """Binary-activation conv; binary weights too unless step 1 of the two-step recipe."""
    return lq.layers.QuantConv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        pad_values=1.0,
        use_bias=False,
        input_quantizer="approx_sign",
        kernel_quantizer="magnitude_aware_sign" if binary_weights else None,
        kernel_constraint="weight_clip" if binary_weights else None,
        name=name,
    )


def _block(x, in_channels, out_channels, stride, binary_weights, name):
    """One ReActNet-A block: binary 3x3 (in->in, stride), then binary 1x1 (in->out)."""
    shortcut = x
    x = LearnableBias(name=f"{name}_bias1")(x)
    x = _binary_conv(in_channels, 3, stride, binary_weights, f"{name}_conv3x3")(x)
    x = tf.keras.layers.BatchNormalization(**_BN, name=f"{name}_bn1")(x)
    if stride == 2:  # "same" so odd sizes round up like the strided conv (7 -> 4)
        pool = tf.keras.layers.AveragePooling2D(2, padding="same", name=f"{name}_pool")
        shortcut = pool(shortcut)
    x = tf.keras.layers.Add(name=f"{name}_add1")([shortcut, x])
    shortcut = RPReLU(name=f"{name}_rprelu1")(x)

    x = LearnableBias(name=f"{name}_bias2")(shortcut)
    if out_channels == in_channels:
        branches = [""]
    elif out_channels == 2 * in_channels:
        branches = ["_a", "_b"]
    else:
        raise ValueError(f"A block maps C to C or 2C channels, got {in_channels}->{out_channels}.")
    outputs = []
    for suffix in branches:
        y = _binary_conv(in_channels, 1, 1, binary_weights, f"{name}_conv1x1{suffix}")(x)
        y = tf.keras.layers.BatchNormalization(**_BN, name=f"{name}_bn2{suffix}")(y)
        outputs.append(tf.keras.layers.Add(name=f"{name}_add2{suffix}")([shortcut, y]))
    if len(outputs) == 2:
        x = tf.keras.layers.Concatenate(name=f"{name}_concat")(outputs)
    else:
        (x,) = outputs
    return RPReLU(name=f"{name}_rprelu2")(x)


def reactnet_a(
    input_shape: Sequence[int],
    num_classes: int,
    width_multiplier: float = 1.0,
    stem_stride: int = 2,
    binary_weights: bool = True,
    name: str = "reactnet_a",
) -> tf.keras.Model:
    """Builds ReActNet-A with outputs `[logits, features]`.

    Args:
        input_shape: `(height, width, channels)` of the already-normalised input image.
        num_classes: size of the "logits" Dense head.
        width_multiplier: scales every width (see `block_widths`).
        stem_stride: 2 as published (224 px -> 7x7 features); 1 for small inputs.
        binary_weights: False builds step 1 of ReActNet's two-step recipe (binary
            activations, real-valued weights); it has the same variables as step 2
            (True), so `step2.set_weights(step1.get_weights())` carries them over.
        name: model name.

    Returns:
        A `tf.keras.Model` whose outputs are the logits `(batch, num_classes)` and the
        last block's feature map `(batch, h, w, 1024 * width)`, named "features".
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}.")
    widths = block_widths(width_multiplier)

    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    x = tf.keras.layers.Conv2D(
        widths[0], 3, strides=stem_stride, padding="same", use_bias=False, name="stem_conv"
    )(inputs)
    x = tf.keras.layers.BatchNormalization(**_BN, name="stem_bn")(x)
    for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
        stride = 2 if c_out != c_in and i > 1 else 1  # the first block keeps the stem's size
        x = _block(x, c_in, c_out, stride, binary_weights, name=f"block{i}")
    features = tf.keras.layers.Activation("linear", name="features")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(features)
    logits = tf.keras.layers.Dense(num_classes, name="logits")(x)
    return tf.keras.Model(inputs, [logits, features], name=name)
