"""Resumable ``fit`` for every stage, learning-rate schedules and the NaN guard."""

import math
import random
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from candle_tf.distribute import backup_dir


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow."""
    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)


def scaled_learning_rate(base_per_128: float, batch_size: int) -> float:
    """The linear scaling rule: lr = base * batch / 128."""
    return base_per_128 * batch_size / 128.0


@tf.keras.utils.register_keras_serializable(package="candle_tf")
class WarmupCosine(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0):
        self.peak, self.total_steps, self.warmup_steps = peak, max(1, total_steps), warmup_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = tf.cast(max(1, self.warmup_steps), tf.float32)
        decay_steps = tf.cast(max(1, self.total_steps - self.warmup_steps), tf.float32)
        progress = tf.clip_by_value((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * self.peak * (1.0 + tf.cos(math.pi * progress))
        if self.warmup_steps <= 0:
            return cosine
        return tf.where(step < self.warmup_steps, self.peak * (step + 1) / warmup, cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


class StopOnNonFinite(tf.keras.callbacks.Callback):
    """Stops a stage at the first NaN/Inf loss, naming the step and the last finite values.

    The checkpoint of the last completed epoch is kept, so the stage can be resumed after
    the cause (usually a too-high learning rate) is fixed.
    """

    def __init__(self, stage: str):
        super().__init__()
        self.stage, self.last_finite, self.epoch = stage, {}, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        values = {k: float(v) for k, v in (logs or {}).items()}
        if all(math.isfinite(v) for v in values.values()):
            self.last_finite = values
            return
        raise FloatingPointError(
            f"Stage {self.stage!r}: a non-finite value at epoch {self.epoch + 1}, step "
            f"{batch + 1}: {values}. Last finite values: {self.last_finite}. The last "
            f"completed epoch's checkpoint is kept; lower the learning rate and re-run the "
            f"same command to resume.")


def fit_resumable(trainer: tf.keras.Model, dataset: tf.data.Dataset, *, stage: str,
                  stage_dir: str, tensorboard_dir: str, epochs: int, steps_per_epoch: int,
                  validation: Optional[tf.data.Dataset] = None,
                  callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                  verbose: int = 1) -> tf.keras.callbacks.History:
    """``trainer.fit`` that checkpoints every epoch and resumes after an interruption.

    Checkpoints (model and optimisers) live in ``<stage_dir>/backup`` until the stage
    finishes (the chief's, for every worker of a multi-worker strategy). TensorBoard logs
    per step go to ``tensorboard_dir``.
    """
    standard = [
        tf.keras.callbacks.BackupAndRestore(backup_dir(stage_dir, trainer.distribute_strategy)),
        tf.keras.callbacks.TensorBoard(tensorboard_dir, update_freq=10, profile_batch=0),
        StopOnNonFinite(stage),
    ]
    return trainer.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                       validation_data=validation, callbacks=standard + list(callbacks),
                       verbose=verbose)
