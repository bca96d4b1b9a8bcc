"""The connector P: student feature map -> the teacher's fused-feature shape."""

import tensorflow as tf

from candle_tf.models.layers import ResizeToGrid, conv_bn_leaky


def build_connector(student_features_shape, teacher_channels: int, grid: int,
                    name: str = "connector") -> tf.keras.Model:
    """1x1 conv (no bias) + BN + LeakyReLU to the teacher's channels, resized to its grid."""
    features = tf.keras.Input(tuple(student_features_shape[1:]), name="student_features")
    projected = conv_bn_leaky(teacher_channels, name=f"{name}_projection")(features)
    return tf.keras.Model(features, ResizeToGrid(grid, name=f"{name}_to_grid")(projected),
                          name=name)
