"""CalibrationTrainer: trains fusion + classifier + LWS of a frozen-encoder teacher (stage 1)."""

from typing import Sequence

import tensorflow as tf

from candle_tf.distribute import global_batch_loss
from trainers.logits_trainer import LogitsTrainer, track_accuracy


class CalibrationTrainer(LogitsTrainer):
    """Wraps the calibrated teacher; ``train_step`` minimises an LT-aware loss on its logits.

    Only the fusion branches, classifier and LWS move: the encoder is frozen (it runs in
    inference mode, or in training mode with its variables in ``frozen_variables`` so that
    only its batch-norm statistics adapt). Under a
    tf.distribute strategy the loss differentiated is the replica's mean / the number of
    replicas, so the gradients summed across replicas are those of the global batch.
    """

    def __init__(self, teacher: tf.keras.Model, loss_fn: tf.keras.losses.Loss,
                 view_names: Sequence[str], frozen_variables=(), **kwargs):
        super().__init__(teacher, frozen_variables, **kwargs)
        self.loss_fn = loss_fn
        self.view_names = list(view_names)

    def call(self, views, training=False):
        return self.network([views[name] for name in self.view_names], training=training)[0]

    def mean_loss(self, labels, logits) -> tf.Tensor:
        """The batch mean of ``loss_fn``'s per-example losses (its ``call``: a Keras Loss'
        own reduction refuses to run under a tf.distribute strategy)."""
        return tf.reduce_mean(self.loss_fn.call(labels, logits))

    def train_step(self, data):
        views, labels = data
        with tf.GradientTape() as tape:
            logits = self(views, training=True)
            loss = self.mean_loss(labels, logits)
            replica_loss = global_batch_loss(loss)
        return self.descend(tape, replica_loss, loss, labels, logits)

    def test_step(self, data):
        views, labels = data
        logits = self(views, training=False)
        self.loss_tracker.update_state(self.mean_loss(labels, logits))
        track_accuracy(self, labels, logits)
        return {m.name: m.result() for m in self.metrics}
