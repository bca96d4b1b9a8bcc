"""ReActNet's learnable-threshold layers: `LearnableBias` (RSign shift) and `RPReLU`.

Both learn one value per channel (the last axis), as in Liu et al., "ReActNet" (ECCV 2020).

>>> import tensorflow as tf
>>> x = tf.constant([[-2.0, 3.0]])
>>> RPReLU(alpha_initializer=tf.keras.initializers.Constant(0.5))(x).numpy().tolist()
[[-1.0, 3.0]]
"""

import tensorflow as tf


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
