"""The student's classifier head: finding it, re-training it alone (MiSLAS's stage 2) and
folding learnable weight scaling back into it."""

import tensorflow as tf

from candle_tf.models.layers import LearnableWeightScaling
from candle_tf.models.students import core_network


def classifier_head(student: tf.keras.Model) -> tf.keras.layers.Dense:
    """The Dense layer that produces the student's logits."""
    head = core_network(student).outputs[0].node.layer
    if not isinstance(head, tf.keras.layers.Dense):
        raise ValueError(f"The logits of {student.name} come from {head.name!r}, not a Dense "
                         "layer: classifier re-training and weight norms need a linear head.")
    return head


def classifier_retraining_model(student: tf.keras.Model) -> tf.keras.Model:
    """Raw pixels -> ``[LWS(logits), features]`` with only the head and LWS trainable; the
    body is frozen (its batch norms in inference mode)."""
    head = classifier_head(student)
    for layer in core_network(student).layers:
        layer.trainable = layer is head
    pixels = tf.keras.Input(student.input_shape[1:], name="student")
    logits, features = student(pixels)
    scaled = LearnableWeightScaling(name="lws")(logits)
    return tf.keras.Model(pixels, [scaled, features], name="classifier_retraining")


def fold_weight_scaling(student: tf.keras.Model, retraining_model: tf.keras.Model) -> None:
    """Moves the learnt LWS scales into the student's head (kernel and bias times s)."""
    scales = retraining_model.get_layer("lws").scales
    head = classifier_head(student)
    head.kernel.assign(head.kernel * scales[None, :])
    if head.use_bias:
        head.bias.assign(head.bias * scales)
