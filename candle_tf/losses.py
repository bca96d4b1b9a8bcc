"""Losses: MiSLAS label-aware smoothing and the distillation terms (KL, class-balanced KL,
feature similarity)."""

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


KL_REDUCTIONS = ("classes", "batch")


def kl_distillation(teacher_logits, student_logits, temperature: float,
                    reduction: str = "batch") -> tf.Tensor:
    """KL(softmax(z_T / tau) || softmax(z_S / tau)), no tau^2 factor.

    ``reduction``: "batch" sums over classes and averages over the batch; "classes" also
    averages over the classes (PyTorch's ``KLDivLoss(reduction="mean")``, the authors').
    """
    teacher_log_p = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)
    student_log_p = tf.nn.log_softmax(student_logits / temperature, axis=-1)
    pointwise = tf.exp(teacher_log_p) * (teacher_log_p - student_log_p)
    if reduction == "classes":
        return tf.reduce_mean(pointwise)
    return tf.reduce_mean(tf.reduce_sum(pointwise, -1))


def log_prior(class_counts) -> np.ndarray:
    """log(n_c / N) of the training split (a class with no image counts as one)."""
    counts = np.maximum(np.asarray(class_counts, dtype=np.float64), 1.0)
    return np.log(counts / counts.sum()).astype(np.float32)


def balanced_kl_distillation(teacher_logits, student_logits, prior_log, temperature: float,
                             adjust_teacher: bool = False, reduction: str = "batch"
                             ) -> tf.Tensor:
    """The class-balanced KL: KL(softmax(z_T / tau) || softmax((z_S + log pi) / tau)).

    The Balanced-Softmax correction inside distillation: the student's raw logits (used at
    test time) are fitted as if the training prior had been divided out.
    ``adjust_teacher`` adds ``log pi`` to the teacher's logits too (the authors' variant).
    """
    teacher = teacher_logits + prior_log if adjust_teacher else teacher_logits
    return kl_distillation(teacher, student_logits + prior_log, temperature, reduction)


def feature_similarity(teacher_features, projected_student_features) -> tf.Tensor:
    """Mean over the batch of 2 - 2 cos(vec(P(F_S)), vec(F_T)), in [0, 4]."""
    batch = tf.shape(teacher_features)[0]
    teacher = tf.math.l2_normalize(tf.reshape(teacher_features, [batch, -1]), axis=-1)
    student = tf.math.l2_normalize(tf.reshape(projected_student_features, [batch, -1]), axis=-1)
    return tf.reduce_mean(2.0 - 2.0 * tf.reduce_sum(teacher * student, axis=-1))
