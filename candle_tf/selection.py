"""Model selection of the student stages (``--select``): keep the epoch whose weights have
the best validation balanced accuracy, resumably, and say which epoch was kept."""

import glob
import json
import math
import os
from typing import Mapping, Optional

import tensorflow as tf

from candle_tf.workdir import write_json

MONITOR = "val_balanced_accuracy"      # what best_val maximises (every student trainer logs it)
BEST_DIR = "best"                      # <stage_dir>/best/: the best epoch's weights so far
BEST_RECORD = "best.json"              # {"epoch" (1-based), "value", "monitor", "logs"}
LAST_RECORD = "last.json"              # the same for the last finished epoch
_PENDING = "best.next.json"            # journal of a save in progress (see KeepBestWeights)
_WRITING = ".writing.weights.h5"       # suffix of a weights file not yet in place


def _read_json(path: str) -> Optional[dict]:
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


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
        write_json(self.path(LAST_RECORD), record)

    def _save(self, record: dict) -> None:
        for name, model in self.models.items():
            model.save_weights(self.path(name + _WRITING))
        write_json(self.path(_PENDING), record)  # from here on, it rolls forward
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
