"""The registered Keras layers of candle_tf's models.

- ``PixelNormalization``: raw pixels to a backbone's input convention, in the graph.
- ``LearnableWeightScaling``: LWS, one learnt scale per class on the logits.
- ReActNet's learnable-threshold layers, ``LearnableBias`` (RSign shift) and ``RPReLU``,
  one value per channel (the last axis), as in Liu et al., "ReActNet" (ECCV 2020).

>>> import tensorflow as tf
>>> x = tf.constant([[-2.0, 3.0]])
>>> RPReLU(alpha_initializer=tf.keras.initializers.Constant(0.5))(x).numpy().tolist()
[[-1.0, 3.0]]
"""

import tensorflow as tf

_PREPROCESS_MODES = ("tf", "torch", "caffe", "none", "student")


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class PixelNormalization(tf.keras.layers.Layer):
    """Raw pixels in [0, 255] to a backbone's input convention, inside the graph.

    ``mode`` is a ``keras.applications`` convention ("tf": [-1, 1]; "torch": ImageNet
    mean/std; "caffe": BGR mean subtraction; "none": unchanged, for backbones that
    normalise themselves) or "student": [-1, 1]. ``channels`` converts grey <-> RGB first.
    """

    def __init__(self, mode: str, channels: int, **kwargs):
        super().__init__(**kwargs)
        if mode not in _PREPROCESS_MODES:
            raise ValueError(f"Unknown normalisation mode {mode!r}; use one of "
                             f"{_PREPROCESS_MODES}.")
        self.mode, self.channels = mode, channels

    def call(self, pixels):
        have = pixels.shape[-1]
        if have == 1 and self.channels == 3:
            pixels = tf.tile(pixels, [1, 1, 1, 3])
        elif have == 3 and self.channels == 1:
            pixels = tf.reduce_mean(pixels, axis=-1, keepdims=True)
        if self.mode == "none":
            return pixels
        if self.mode == "student":
            return pixels / 127.5 - 1.0
        return tf.keras.applications.imagenet_utils.preprocess_input(pixels, mode=self.mode)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "channels": self.channels}


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class ResizeToGrid(tf.keras.layers.Layer):
    """Resizes a feature map to ``grid`` x ``grid`` (area-like when shrinking)."""

    def __init__(self, grid: int, **kwargs):
        super().__init__(**kwargs)
        self.grid = grid

    def call(self, features):
        if features.shape[1] == self.grid and features.shape[2] == self.grid:
            return features
        return tf.image.resize(features, (self.grid, self.grid), method="bilinear",
                               antialias=True)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class LearnableWeightScaling(tf.keras.layers.Layer):
    """LWS: one learnable scale per class multiplying the logits, initialised to 1."""

    def build(self, input_shape):
        self.scales = self.add_weight(name="scales", shape=(input_shape[-1],),
                                      initializer="ones", trainable=True)

    def call(self, logits):
        return logits * self.scales


def conv_bn_leaky(channels: int, name: str) -> tf.keras.Sequential:
    """1x1 conv (no bias) + BatchNorm + LeakyReLU: the fusion branch and the connector."""
    return tf.keras.Sequential([
        tf.keras.layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_conv"),
        tf.keras.layers.BatchNormalization(name=f"{name}_bn"),
        tf.keras.layers.LeakyReLU(alpha=0.1, name=f"{name}_leaky_relu"),
    ], name=name)


def _channels(input_shape) -> int:
    channels = tf.TensorShape(input_shape)[-1]
    if channels is None:
        raise ValueError(f"The channel axis (last) must be known, got input shape {input_shape}.")
    return channels


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class LearnableBias(tf.keras.layers.Layer):
    """Adds a learnable per-channel bias: `x + b` (the threshold of ReActNet's RSign).

    Placed before a sign, it moves the binarisation threshold of every channel.
    """

    def __init__(self, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.bias_initializer = tf.keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=(_channels(input_shape),), initializer=self.bias_initializer
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias

    def get_config(self):
        return {
            **super().get_config(),
            "bias_initializer": tf.keras.initializers.serialize(self.bias_initializer),
        }


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class RPReLU(tf.keras.layers.Layer):
    """ReActNet's RPReLU: `PReLU(x - gamma) + zeta`, all three parameters per channel.

    `gamma` and `zeta` are stored as the biases `bias_in` (added, so `bias_in = -gamma`)
    and `bias_out`; the slope `alpha` starts at 0.25 like PyTorch's `nn.PReLU`.
    PReLU is written `relu(x) + (-alpha) * relu(-x)` with `alpha` broadcast to the input's
    rank: the pattern the TFLite converter fuses into one PRELU op.
    """

    def __init__(self, alpha_initializer=tf.keras.initializers.Constant(0.25), **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = tf.keras.initializers.get(alpha_initializer)

    def build(self, input_shape):
        channels = _channels(input_shape)
        self.bias_in = self.add_weight(name="bias_in", shape=(channels,), initializer="zeros")
        self.alpha = self.add_weight(
            name="alpha", shape=(channels,), initializer=self.alpha_initializer
        )
        self.bias_out = self.add_weight(name="bias_out", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        x = inputs + self.bias_in
        alpha = tf.reshape(self.alpha, (1,) * (inputs.shape.rank - 2) + (-1,))
        return tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x) + self.bias_out

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": tf.keras.initializers.serialize(self.alpha_initializer),
        }
