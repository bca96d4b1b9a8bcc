"""AB_phi: the adversarial balancer that outputs lambda for L = lambda*L_KL + (1-lambda)*L_FS."""

import tensorflow as tf


def build_balancer(hidden_units=(8, 8), name: str = "balancer") -> tf.keras.Model:
    """MLP [3 -> hidden -> 2] with ReLU and a softmax; lambda is the first output.

    Input: ``[L_KL, L_FS, t]`` (detached loss values and training progress in [0, 1]).
    """
    inputs = tf.keras.Input((3,), name="losses_and_progress")
    x = inputs
    for i, units in enumerate(hidden_units):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    weights = tf.keras.layers.Dense(2, activation="softmax", name="loss_weights")(x)
    return tf.keras.Model(inputs, weights, name=name)
