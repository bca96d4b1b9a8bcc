"""Losses of the long-tailed baselines, per example (``reduction=NONE``).

Every loss takes integer labels and logits and is built from the training split's class
counts. Class re-weighting (effective number) is applied by the trainer, not here.
"""

import numpy as np
import tensorflow as tf

NONE = tf.keras.losses.Reduction.NONE


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
