"""Every loss of candle_tf.

- Calibration: MiSLAS's label-aware smoothing.
- Distillation: KL, the class-balanced KL and the feature similarity.
- Long-tailed baselines, per example (``reduction=NONE``): cross-entropy, LDAM, the
  logit-adjusted loss and Balanced Softmax, built from the training split's class counts;
  class re-weighting (effective number) is applied by the trainer.
"""

import math

import numpy as np
import tensorflow as tf

NONE = tf.keras.losses.Reduction.NONE


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


def effective_number_weights(class_counts, beta: float) -> np.ndarray:
    """Class-balanced weights (Cui et al. 2019): w_c proportional to (1 - beta) / (1 - beta^n_c).

    Normalised so that the weights sum to the number of classes (all 1 for equal counts).
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return (weights * len(counts) / weights.sum()).astype(np.float32)


def ldam_margins(class_counts, max_margin: float) -> np.ndarray:
    """LDAM's per-class margins, proportional to n_c^(-1/4); the rarest class gets
    ``max_margin``."""
    margins = np.power(np.asarray(class_counts, dtype=np.float64), -0.25)
    return (margins * max_margin / margins.max()).astype(np.float32)


def sparse_cross_entropy(labels, logits) -> tf.Tensor:
    """Softmax cross-entropy of integer labels, per example."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


# The losses' ``call`` methods avoid ``super()``: Keras runs ``call`` through AutoGraph,
# which mis-resolves a zero-argument ``super()`` inside a traced train step.
class CrossEntropy(tf.keras.losses.Loss):
    """Softmax cross-entropy, per example."""

    def __init__(self, name: str = "cross_entropy"):
        super().__init__(reduction=NONE, name=name)

    def call(self, labels, logits):
        return sparse_cross_entropy(labels, logits)


class LogitAdjustedLoss(CrossEntropy):
    """Cross-entropy on ``logits + tau * log(prior)`` (Menon et al. 2021).

    With ``tau = 1`` this is Balanced Softmax (Ren et al. 2020): log prior and log counts
    differ by a constant, which softmax ignores.
    """

    def __init__(self, class_counts, tau: float = 1.0, name: str = "logit_adjusted"):
        super().__init__(name=name)
        counts = np.asarray(class_counts, dtype=np.float64)
        self.adjustment = tf.constant(tau * np.log(counts / counts.sum()), tf.float32)

    def call(self, labels, logits):
        return sparse_cross_entropy(labels, logits + self.adjustment)


def balanced_softmax(class_counts) -> LogitAdjustedLoss:
    """Balanced Softmax: cross-entropy on ``logits + log(n_c)``."""
    return LogitAdjustedLoss(class_counts, tau=1.0, name="balanced_softmax")


class LDAMLoss(CrossEntropy):
    """Label-distribution-aware margin loss (Cao et al. 2019).

    Cross-entropy on ``scale * (logits - margin_y * onehot(y))``: the true class's logit
    must beat the others by a margin that grows as the class gets rarer.
    """

    def __init__(self, class_counts, max_margin: float = 0.5, scale: float = 30.0,
                 name: str = "ldam"):
        super().__init__(name=name)
        self.margins = tf.constant(ldam_margins(class_counts, max_margin))
        self.scale = float(scale)

    def call(self, labels, logits):
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        margin = tf.one_hot(labels, tf.shape(logits)[-1]) * tf.gather(self.margins, labels)[:, None]
        return sparse_cross_entropy(labels, self.scale * (logits - margin))
