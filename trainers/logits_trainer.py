"""LogitsTrainer: what the trainers that fit one network's logits to labels share."""

import tensorflow as tf

from candle_tf.metrics import BalancedAccuracy


class LogitsTrainer(tf.keras.Model):
    """Wraps ``network`` (inputs -> ``[logits, ...]``): loss and accuracy trackers, optimiser
    slots built at ``compile`` for the trained variables, and ``descend``.

    The trained variables are the network's trainable ones except ``frozen_variables``
    (e.g. an encoder that runs in training mode only so that its batch-norm statistics
    adapt). Subclasses write ``train_step`` (the loss) and ``test_step``; a ``test_step``
    reports ``balanced_accuracy`` (Keras logs ``val_balanced_accuracy``: every method's
    student is selected on it, as with DistillationTrainer).
    """

    def __init__(self, network: tf.keras.Model, frozen_variables=(), **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self._frozen = {v.ref() for v in frozen_variables}
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.balanced_accuracy = BalancedAccuracy(network.outputs[0].shape[-1])

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trained_variables)  # no second trace for slots

    @property
    def trained_variables(self):
        return [v for v in self.network.trainable_variables if v.ref() not in self._frozen]

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy, self.balanced_accuracy]

    def descend(self, tape: tf.GradientTape, replica_loss, loss, labels, logits) -> dict:
        """Applies the gradient of ``replica_loss`` (recorded on ``tape``; under a
        tf.distribute strategy the replica's share of the global batch loss) to the
        trained variables, tracks ``loss`` and the accuracies, returns the logs."""
        variables = self.trained_variables
        self.optimizer.apply_gradients(zip(tape.gradient(replica_loss, variables), variables))
        self.loss_tracker.update_state(loss)
        track_accuracy(self, labels, logits)
        return {m.name: m.result() for m in self.metrics}


def track_accuracy(trainer: tf.keras.Model, labels, logits) -> dict:
    """Updates a trainer's ``accuracy`` and ``balanced_accuracy`` with a batch; returns
    their results (a student trainer's ``test_step`` logs: Keras reports them as
    ``val_accuracy`` and ``val_balanced_accuracy``, which ``--select`` reads)."""
    for metric in (trainer.accuracy, trainer.balanced_accuracy):
        metric.update_state(labels, logits)
    return {"accuracy": trainer.accuracy.result(),
            "balanced_accuracy": trainer.balanced_accuracy.result()}
