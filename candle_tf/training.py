"""Resumable ``fit`` for every stage, learning-rate schedules and the NaN guard."""

import csv
import glob
import json
import math
import os
import random
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from candle_tf.distribute import backup_dir

SELECT_CHOICES = ("best_val", "last")  # --select: which epoch's student a stage keeps
MONITOR = "val_balanced_accuracy"      # what best_val maximises (every student trainer logs it)
BEST_DIR = "best"                      # <stage_dir>/best/: the best epoch's weights so far
BEST_RECORD = "best.json"              # {"epoch" (1-based), "value", "monitor", "logs"}
LAST_RECORD = "last.json"              # the same for the last finished epoch
_PENDING = "best.next.json"            # journal of a save in progress (see KeepBestWeights)
_WRITING = ".writing.weights.h5"       # suffix of a weights file not yet in place


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


def check_select(select: str) -> None:
    if select not in SELECT_CHOICES:
        raise ValueError(f"--select={select!r}: use one of {', '.join(SELECT_CHOICES)} (best_val "
                         "keeps the epoch with the highest balanced accuracy on the "
                         "validation split, last the last epoch).")


def _read_json(path: str) -> Optional[dict]:
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _write_json_atomically(path: str, data: dict) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(data, handle, indent=2, allow_nan=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _epoch_record(epoch: int, monitor: str, value: float, logs: dict) -> dict:
    return {"epoch": epoch + 1, "value": value, "monitor": monitor,
            "logs": {k: float(v) if math.isfinite(float(v)) else None  # JSON has no NaN
                     for k, v in logs.items() if k.startswith("val_")}}


class KeepBestWeights(tf.keras.callbacks.Callback):
    """Keeps the weights of the epoch with the highest ``monitor`` (strictly greater wins).

    After every epoch whose ``logs[monitor]`` beats the best so far, each model of
    ``models`` (name -> model, e.g. the student and its connector) is saved to
    ``<directory>/<name>.weights.h5`` and then ``<directory>/best.json`` records the epoch
    (1-based) and the value. Every epoch's value also goes to ``last.json``. With
    ``save_weights=False`` only ``last.json`` is written (``--select=last``).

    Resumable after SIGKILL: the weight files are written under temporary names, a journal
    (``best.next.json``) is written, the files are moved into place and the journal becomes
    ``best.json`` (``os.replace``); a new instance rolls an interrupted save forward (or
    drops its partial files), then starts from ``best.json``'s value. Put it before Keras'
    ``BackupAndRestore``, so an epoch is checkpointed only once it has been considered. A
    fit that starts at epoch 1 (no checkpoint to resume) discards an earlier best.
    """

    def __init__(self, models: Mapping[str, tf.keras.Model], directory: str,
                 monitor: str = MONITOR, save_weights: bool = True):
        super().__init__()
        self.models, self.directory = dict(models), directory
        self.monitor, self.save_weights = monitor, save_weights
        self._started = False
        os.makedirs(directory, exist_ok=True)
        self._recover()
        self.best = _read_json(self.path(BEST_RECORD)) if save_weights else None

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def weights_path(self, name: str) -> str:
        return self.path(f"{name}.weights.h5")

    def _recover(self) -> None:
        """Finishes a save whose journal was written; drops the files of one that was not."""
        pending = self.path(_PENDING)
        if os.path.exists(pending):
            for name in self.models:
                if os.path.exists(self.path(name + _WRITING)):
                    os.replace(self.path(name + _WRITING), self.weights_path(name))
            os.replace(pending, self.path(BEST_RECORD))
        for stale in glob.glob(self.path("*" + _WRITING)) + glob.glob(self.path("*.tmp")):
            os.remove(stale)

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:
            self._started = True
            if epoch == 0 and self.best is not None:  # a new fit, not a resumed one
                os.remove(self.path(BEST_RECORD))
                self.best = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(f"KeepBestWeights: the epoch's logs have no {self.monitor!r} "
                           f"(they have {', '.join(sorted(logs))}); fit with validation data "
                           "and a trainer whose test_step reports balanced_accuracy.")
        value = float(logs[self.monitor])
        record = _epoch_record(epoch, self.monitor, value, logs)
        if self.save_weights and (self.best is None or value > self.best["value"]):
            self._save(record)
        _write_json_atomically(self.path(LAST_RECORD), record)

    def _save(self, record: dict) -> None:
        for name, model in self.models.items():
            model.save_weights(self.path(name + _WRITING))
        _write_json_atomically(self.path(_PENDING), record)  # from here on, it rolls forward
        for name in self.models:
            os.replace(self.path(name + _WRITING), self.weights_path(name))
        os.replace(self.path(_PENDING), self.path(BEST_RECORD))
        self.best = record

    def restore(self) -> Optional[dict]:
        """Loads the best epoch's weights into the models; returns its record (None: no
        epoch was kept)."""
        if self.best is None:
            return None
        for name, model in self.models.items():
            model.load_weights(self.weights_path(name))
        return self.best


def selection_result(stage_dir: str, select: str) -> dict:
    """What a student stage records about the epoch it kept: ``selected_epoch`` and the
    kept weights' ``val_balanced_accuracy`` / ``val_accuracy``, and the last epoch's."""
    directory = os.path.join(stage_dir, BEST_DIR)
    last = _read_json(os.path.join(directory, LAST_RECORD))
    if last is None:
        return {"select": select}
    kept = last
    if select == "best_val":
        kept = _read_json(os.path.join(directory, BEST_RECORD)) or last
    result = {"select": select, "selected_epoch": kept["epoch"],
              "last_epoch": last["epoch"]}
    for prefix, record in (("", kept), ("last_", last)):
        result[f"{prefix}{record['monitor']}"] = record["value"]
        if "val_accuracy" in record["logs"]:
            result[f"{prefix}val_accuracy"] = record["logs"]["val_accuracy"]
    return result


HISTORY_FILE = "history.csv"


def epoch_history(stage_dir: str) -> list:
    """Each finished epoch's logs from ``<stage_dir>/history.csv``, in order, one per epoch
    (of rows repeated by a resume, the last)."""
    path = os.path.join(stage_dir, HISTORY_FILE)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        rows = {int(row["epoch"]): {k: float(v) for k, v in row.items() if v != ""}
                for row in csv.DictReader(handle)}
    return [rows[epoch] for epoch in sorted(rows)]


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
        check_select(select)
        if validation is None or not keep:
            raise ValueError(f"Stage {stage!r}: --select needs validation data and the "
                             "models to keep.")
        keeper = KeepBestWeights(keep, os.path.join(stage_dir, BEST_DIR),
                                 save_weights=select == "best_val")
    standard = [
        tf.keras.callbacks.CSVLogger(os.path.join(stage_dir, HISTORY_FILE), append=True),
        tf.keras.callbacks.BackupAndRestore(backup_dir(stage_dir, trainer.distribute_strategy)),
        tf.keras.callbacks.TensorBoard(tensorboard_dir, update_freq=tensorboard_every,
                                       profile_batch=0),
        StopOnNonFinite(stage),
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
