"""CalibrationTrainer: trains fusion + classifier + LWS of a frozen-encoder teacher (stage 1)."""

from typing import Sequence

import tensorflow as tf

from candle_tf.distribute import global_batch_loss


class CalibrationTrainer(tf.keras.Model):
    """Wraps the calibrated teacher; ``train_step`` minimises an LT-aware loss on its logits.

    Only the teacher's trainable variables move (fusion branches, classifier, LWS): the
    encoder is frozen and runs in inference mode inside the teacher's graph. Under a
    tf.distribute strategy the loss differentiated is the replica's mean / the number of
    replicas, so the gradients summed across replicas are those of the global batch.
    """

    def __init__(self, teacher: tf.keras.Model, loss_fn: tf.keras.losses.Loss,
                 view_names: Sequence[str], **kwargs):
        super().__init__(**kwargs)
        self.teacher = teacher
        self.loss_fn = loss_fn
        self.view_names = list(view_names)
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.teacher.trainable_variables)  # no second trace for slots

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def call(self, views, training=False):
        return self.teacher([views[name] for name in self.view_names], training=training)[0]

    def mean_loss(self, labels, logits) -> tf.Tensor:
        """The batch mean of ``loss_fn``'s per-example losses (its ``call``: a Keras Loss'
        own reduction refuses to run under a tf.distribute strategy)."""
        return tf.reduce_mean(self.loss_fn.call(labels, logits))

    def train_step(self, data):
        views, labels = data
        with tf.GradientTape() as tape:
            logits = self(views, training=True)
            loss = self.mean_loss(labels, logits)
            scaled_loss = global_batch_loss(loss)
        variables = self.teacher.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        views, labels = data
        logits = self(views, training=False)
        self.loss_tracker.update_state(self.mean_loss(labels, logits))
        self.accuracy.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}
