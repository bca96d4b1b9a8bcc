"""How every stage trains: one fit sequence (``fit_stage``), resumable after any
interruption, with its learning-rate schedules and the NaN guard."""

import csv
import math
import os
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from candle_tf.distribute import backup_dir
from candle_tf.selection import BEST_DIR, KeepBestWeights, selection_result
from candle_tf.workdir import tick_clock

HISTORY_FILE = "history.csv"


def scaled_learning_rate(base_per_128: float, batch_size: int) -> float:
    """The linear scaling rule: lr = base * batch / 128.

    >>> scaled_learning_rate(0.1, 256)
    0.2
    """
    return base_per_128 * batch_size / 128.0


def cosine_schedule(peak: float, total_steps: int, warmup_steps: int = 0
                    ) -> tf.keras.optimizers.schedules.CosineDecay:
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then cosine decay to 0 at
    ``total_steps`` (Keras' CosineDecay)."""
    total_steps = max(1, int(total_steps))
    if warmup_steps <= 0:
        return tf.keras.optimizers.schedules.CosineDecay(peak, total_steps)
    warmup_steps = min(int(warmup_steps), total_steps)
    return tf.keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total_steps - warmup_steps), warmup_target=peak,
        warmup_steps=warmup_steps)


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


def epoch_history(stage_dir: str) -> list:
    """Each finished epoch's logs from ``<stage_dir>/history.csv``, in order, one per epoch
    (of rows repeated by a resume, the last)."""
    path = os.path.join(stage_dir, HISTORY_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        rows = {int(row["epoch"]): {k: float(v) for k, v in row.items() if v not in ("", "NA")}
                for row in csv.DictReader(handle)}
    return [rows[epoch] for epoch in sorted(rows)]


class _Clock(tf.keras.callbacks.Callback):
    """Adds the time of each finished epoch to the stage's clock (``workdir.tick_clock``)."""

    def __init__(self, stage_dir: str):
        super().__init__()
        self.stage_dir = stage_dir

    def on_epoch_end(self, epoch, logs=None):
        tick_clock(self.stage_dir)


def fit_resumable(trainer: tf.keras.Model, dataset: tf.data.Dataset, *, stage: str,
                  stage_dir: str, tensorboard_dir: str, epochs: int, steps_per_epoch: int,
                  validation: Optional[tf.data.Dataset] = None,
                  callbacks: Sequence[tf.keras.callbacks.Callback] = (),
                  verbose: int = 1, select: Optional[str] = None,
                  keep: Optional[Dict[str, tf.keras.Model]] = None,
                  tensorboard_every: int = 10) -> tf.keras.callbacks.History:
    """``trainer.fit`` that checkpoints every epoch and resumes after an interruption.

    Checkpoints (model and optimisers) live in ``<stage_dir>/backup`` until the stage
    finishes (the chief's, for every worker of a multi-worker strategy). TensorBoard logs
    every ``tensorboard_every`` steps go to ``tensorboard_dir``; each epoch's logs
    (validation included) to ``<stage_dir>/history.csv`` (a row is written before the
    epoch's checkpoint, so a resume may repeat an epoch's row: the last one counts).

    Model selection (the student stages): with ``select="best_val"`` the models of ``keep``
    (name -> model) are saved to ``<stage_dir>/best/`` whenever the validation balanced
    accuracy improves (``KeepBestWeights``), and the best epoch's weights are loaded back
    into them when fit ends; ``select="last"`` leaves the last epoch's weights (the epochs'
    values are still recorded). ``selection_result(stage_dir, select)`` then says which
    epoch was kept. ``select=None`` (the teacher stages): no selection, the last epoch.
    """
    keeper = None
    if select is not None:
        if validation is None or not keep:
            raise ValueError(f"Stage {stage!r}: --select needs validation data and the "
                             "models to keep.")
        keeper = KeepBestWeights(keep, os.path.join(stage_dir, BEST_DIR),
                                 save_weights=select == "best_val")
    backup = backup_dir(stage_dir, trainer.distribute_strategy)
    finished = len(epoch_history(stage_dir))
    if os.path.isdir(backup) and finished and verbose:
        print(f"Stage {stage!r}: resuming from epoch {min(finished, epochs) + 1} of {epochs} "
              f"(the checkpoint in {backup}).", flush=True)
    standard = [
        tf.keras.callbacks.CSVLogger(os.path.join(stage_dir, HISTORY_FILE), append=True),
        tf.keras.callbacks.BackupAndRestore(backup),
        tf.keras.callbacks.TensorBoard(tensorboard_dir, update_freq=tensorboard_every,
                                       profile_batch=0),
        StopOnNonFinite(stage),
        _Clock(stage_dir),
    ]
    # The keeper runs first: an epoch is checkpointed only after it was considered.
    history = trainer.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch,
                          validation_data=validation,
                          callbacks=([keeper] if keeper else []) + standard + list(callbacks),
                          verbose=verbose)
    if keeper is not None and select == "best_val":
        kept = keeper.restore()
        if kept is not None and verbose:
            print(f"Stage {stage!r}: kept epoch {kept['epoch']} ({kept['monitor']} = "
                  f"{kept['value']:.4f}, the best on the validation split).", flush=True)
    return history


def stage_inputs(dataset: LongTailedDataset, config: RunConfig, views: Dict[str, int],
                 batch_size: int, validation_views: Optional[Dict[str, int]] = None,
                 source: bool = False, class_balanced: bool = False
                 ) -> Tuple[tf.data.Dataset, tf.data.Dataset, int]:
    """(training batches, validation batches, steps per epoch) of a stage.

    ``views``: the views each training batch carries (``validation_views``: those of the
    validation batches, default the same). ``source``: train on the balanced source split
    (teacher pretraining) rather than the LT one.
    """
    split = dataset.source_train if source else dataset.train
    training = training_dataset(split, batch_size, views, config.augmentation,
                                class_balanced=class_balanced, seed=config.seed,
                                channels=dataset.channels)
    validation = evaluation_dataset(dataset.val, config.eval_batch_size,
                                    validation_views or views, config.eval_crop_fraction,
                                    dataset.channels)
    return training, validation, steps_per_epoch(len(split), batch_size)


def fit_stage(trainer: tf.keras.Model, dataset: LongTailedDataset, config: RunConfig, *,
              stage: str, stage_dir: str, tensorboard_dir: str, views: Dict[str, int],
              batch_size: int, epochs: int, validation_views: Optional[Dict[str, int]] = None,
              source: bool = False, class_balanced: bool = False,
              select: Optional[str] = None, keep: Optional[Dict[str, tf.keras.Model]] = None,
              callbacks: Sequence[tf.keras.callbacks.Callback] = (),
              tensorboard_every: int = 10) -> dict:
    """The fit sequence of every stage: its inputs (``stage_inputs``), ``fit_resumable``,
    and the stage's record: the last epoch's ``val_accuracy`` and, for a student
    (``select``), which epoch was kept and its validation accuracies."""
    training, validation, steps = stage_inputs(dataset, config, views, batch_size,
                                               validation_views, source, class_balanced)
    fit_resumable(trainer, training, stage=stage, stage_dir=stage_dir,
                  tensorboard_dir=tensorboard_dir, epochs=epochs, steps_per_epoch=steps,
                  validation=validation, callbacks=callbacks, verbose=config.verbose,
                  select=select, keep=keep, tensorboard_every=tensorboard_every)
    record = {"val_accuracy": epoch_history(stage_dir)[-1]["val_accuracy"]}
    if select is not None:
        record.update(selection_result(stage_dir, select))
    return record
