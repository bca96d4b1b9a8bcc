"""LogitsTrainer: what the trainers that fit one network's logits to labels share."""

import tensorflow as tf


class LogitsTrainer(tf.keras.Model):
    """Wraps ``network`` (inputs -> ``[logits, ...]``): loss and accuracy trackers, optimiser
    slots built at ``compile`` for the network's trainable variables, and ``descend``.

    Subclasses write ``train_step`` (the loss) and ``test_step``.
    """

    def __init__(self, network: tf.keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.network.trainable_variables)  # no second trace for slots

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def descend(self, tape: tf.GradientTape, replica_loss, loss, labels, logits) -> dict:
        """Applies the gradient of ``replica_loss`` (recorded on ``tape``; under a
        tf.distribute strategy the replica's share of the global batch loss) to the
        network's trainable variables, tracks ``loss`` and the accuracy, returns the logs."""
        variables = self.network.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(replica_loss, variables), variables))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}
