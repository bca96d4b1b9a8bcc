"""LabelTrainer: the binary student trained on the labels alone, for the long-tailed
baselines (the same student, data, optimiser and evaluation as CANDLE; only the training
signal differs): a long-tailed loss, optional per-class weights (re-weighting, DRW) and
optional mixup. ``candle_tf/stages/baseline.py`` builds it for each label-only method.
"""

from typing import Optional

import tensorflow as tf

from candle_tf.distribute import global_batch_loss
from trainers.logits_trainer import LogitsTrainer, track_accuracy


class DeferredClassWeights:
    """Per-class loss weights: all 1 before ``start_step``, ``weights`` from then on."""

    def __init__(self, weights, start_step: int = 0):
        self.weights = tf.constant(weights, tf.float32)
        self.start_step = int(start_step)

    def __call__(self, step) -> tf.Tensor:
        started = tf.cast(step, tf.int64) >= self.start_step
        return tf.where(started, self.weights, tf.ones_like(self.weights))


def mixup(pixels, labels, alpha: float):
    """Mixes every image with a random partner of the batch (Zhang et al. 2018).

    Returns ``(w * x + (1 - w) * x_partner, partner labels, w)`` with w ~ Beta(alpha, alpha),
    one w per batch.
    """
    draws = tf.random.gamma([2], alpha)
    weight = draws[0] / (draws[0] + draws[1])
    partners = tf.random.shuffle(tf.range(tf.shape(pixels)[0]))
    mixed = weight * pixels + (1.0 - weight) * tf.gather(pixels, partners)
    return mixed, tf.gather(labels, partners), weight


class LabelTrainer(LogitsTrainer):
    """The student trained on the labels with a per-example long-tailed loss.

    Under a tf.distribute strategy the loss differentiated is the replica's mean / the
    number of replicas (``candle_tf.distribute.global_batch_loss``), like CANDLE's trainers.

    Args:
      student: raw pixels -> ``[logits, features]``.
      loss_fn: ``(labels, logits)`` -> per-example loss.
      class_weights: ``step -> per-class weights`` multiplying each example's loss, or None.
      mixup_alpha: > 0 trains on mixup batches (loss mixed with the same weight).
    """

    def __init__(self, student: tf.keras.Model, loss_fn: tf.keras.losses.Loss,
                 class_weights: Optional[DeferredClassWeights] = None,
                 mixup_alpha: float = 0.0, **kwargs):
        super().__init__(student, **kwargs)
        self.loss_fn = loss_fn
        self.class_weights, self.mixup_alpha = class_weights, float(mixup_alpha)

    def call(self, views, training=False):
        return self.network(views["student"], training=training)[0]

    def label_loss(self, labels, logits) -> tf.Tensor:
        """Mean over the batch of the (class-weighted) per-example loss."""
        losses = self.loss_fn(labels, logits)
        if self.class_weights is not None:
            weights = self.class_weights(self.optimizer.iterations)
            losses = losses * tf.gather(weights, tf.cast(tf.reshape(labels, [-1]), tf.int32))
        return tf.reduce_mean(losses)

    def train_step(self, data):
        views, labels = data
        pixels = views["student"]
        with tf.GradientTape() as tape:
            if self.mixup_alpha > 0:
                pixels, partners, weight = mixup(pixels, labels, self.mixup_alpha)
                logits = self.network(pixels, training=True)[0]
                loss = (weight * self.label_loss(labels, logits)
                        + (1.0 - weight) * self.label_loss(partners, logits))
            else:
                logits = self.network(pixels, training=True)[0]
                loss = self.label_loss(labels, logits)
            replica_loss = global_batch_loss(loss)
        return self.descend(tape, replica_loss, loss, labels, logits)

    def test_step(self, data):
        views, labels = data
        return track_accuracy(self, labels, self(views, training=False))
