"""Losses: MiSLAS label-aware smoothing, the KL and feature-similarity distillation terms."""

import math

import numpy as np
import tensorflow as tf


def label_aware_epsilons(class_counts, eps_head: float, eps_tail: float) -> np.ndarray:
    """Per-class smoothing: eps_tail + (eps_head - eps_tail) * sin(pi/2 * (n - n_min) / (n_max - n_min)).

    The most frequent class gets ``eps_head``, the rarest ``eps_tail`` (MiSLAS, concave).
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    spread = counts.max() - counts.min()
    position = (counts - counts.min()) / spread if spread > 0 else np.ones_like(counts)
    return (eps_tail + (eps_head - eps_tail) * np.sin(math.pi / 2 * position)).astype(np.float32)


class LabelAwareSmoothing(tf.keras.losses.Loss):
    """(1 - eps_y) * NLL(y) + eps_y * mean_c(-log p_c), with eps_y from the class counts."""

    def __init__(self, class_counts, eps_head: float, eps_tail: float,
                 name: str = "label_aware_smoothing"):
        super().__init__(name=name)
        self.epsilons = tf.constant(label_aware_epsilons(class_counts, eps_head, eps_tail))

    def call(self, labels, logits):
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        nll = -tf.gather(log_probs, labels, batch_dims=1)
        uniform = -tf.reduce_mean(log_probs, axis=-1)
        eps = tf.gather(self.epsilons, labels)
        return (1.0 - eps) * nll + eps * uniform


def kl_distillation(teacher_logits, student_logits, temperature: float) -> tf.Tensor:
    """KL(softmax(z_T / tau) || softmax(z_S / tau)), mean over the batch."""
    teacher_log_p = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    student_log_p = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    per_example = tf.reduce_sum(tf.exp(teacher_log_p) * (teacher_log_p - student_log_p), -1)
    return tf.reduce_mean(per_example)


def feature_similarity(teacher_features, projected_student_features) -> tf.Tensor:
    """Mean over the batch of 2 - 2 cos(vec(P(F_S)), vec(F_T)), in [0, 4]."""
    batch = tf.shape(teacher_features)[0]
    teacher = tf.math.l2_normalize(tf.reshape(teacher_features, [batch, -1]), axis=-1)
    student = tf.math.l2_normalize(tf.reshape(projected_student_features, [batch, -1]), axis=-1)
    return tf.reduce_mean(2.0 - 2.0 * tf.reduce_sum(teacher * student, axis=-1))
