"""Stage 2: distil the frozen calibrated teacher into the binary student."""

import csv
import os
import shutil
from typing import Optional

import larq
import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import steps_per_epoch
from candle_tf.fitting import epoch_history, fit_stage
from candle_tf.models.students import core_network
from candle_tf.workdir import Workdir

STUDENT_FILE = "student.weights.h5"
CONNECTOR_FILE = "connector.weights.h5"
STEP1, STEP2 = "step1_real_weights", "step2_binary"
LAMBDA_LOG = "lambda.csv"


class LambdaLog(tf.keras.callbacks.Callback):
    """Writes every training step's balancer weights and loss terms to a CSV file.

    Rows are buffered and appended every ``flush_every`` steps and at each epoch's end. At
    the start of training (after a resume has restored the last finished epoch) rows of
    steps beyond the restored step are dropped, so the file holds each step once.
    """

    COLUMNS = ("lambda", "w2", "l_kl", "l_kl_bal", "l_fs", "label", "head")

    def __init__(self, path: str, flush_every: int = 100):
        super().__init__()
        self.path, self.flush_every, self.rows = path, flush_every, []

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.path):
            return
        done = int(self.model.optimizer.iterations.numpy())
        with open(self.path, newline="") as handle:
            rows = list(csv.reader(handle))
        kept = [row for row in rows[1:] if int(row[0]) <= done]
        if len(kept) < len(rows) - 1:
            with open(self.path, "w", newline="") as handle:
                csv.writer(handle).writerows([rows[0]] + kept)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        self.rows.append([step] + [f"{float(logs[k]):.6g}" for k in self.COLUMNS])
        if len(self.rows) >= self.flush_every:
            self.flush()

    def on_epoch_end(self, epoch, logs=None):
        self.flush()

    def flush(self):
        if not self.rows:
            return
        new = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(("step",) + self.COLUMNS)
            writer.writerows(self.rows)
        self.rows = []


def run(config: RunConfig, dataset: LongTailedDataset, teacher_path: str, stage_dir: str,
        tensorboard_dir: str) -> dict:
    """Writes ``<stage_dir>/student.weights.h5``, ``connector.weights.h5`` and ``lambda.csv``.

    With ``--two_step`` (ReActNet's recipe), step 1 distils a student with binary
    activations and real weights into ``<stage_dir>/step1_real_weights/``; step 2 copies
    its student and connector into the binary student and distils that into
    ``<stage_dir>/step2_binary/``. Each step has its own checkpoint and done marker, so an
    interrupted step resumes and a finished one is skipped.

    ``--select=best_val`` keeps the epoch whose student has the highest balanced accuracy on
    the validation split (``<stage_dir>/best/``; with ``--two_step`` each step selects
    within itself, and step 2 starts from step 1's kept weights); ``last`` the last epoch.
    """
    teacher = builders.load_calibrated_teacher(config, dataset, teacher_path)
    if not config.two_step:
        return _distill(config, dataset, teacher, stage_dir, tensorboard_dir)
    steps = Workdir(stage_dir)
    step1 = steps.run_stage(2, STEP1, lambda d: _distill(
        config, dataset, teacher, d, os.path.join(tensorboard_dir, STEP1),
        binary_weights=False))
    step2 = steps.run_stage(2, STEP2, lambda d: _distill(
        config, dataset, teacher, d, os.path.join(tensorboard_dir, STEP2), start_from=step1))
    final = {name: os.path.join(stage_dir, os.path.basename(step2[name]))
             for name in ("student", "connector")}
    for name, path in final.items():
        shutil.copyfile(step2[name], path)
    return {**step2, **final, "step1_val_accuracy": step1["val_accuracy"],
            "step1_selected_epoch": step1.get("selected_epoch")}


def _distill(config: RunConfig, dataset: LongTailedDataset, teacher: tf.keras.Model,
             stage_dir: str, tensorboard_dir: str, binary_weights: bool = True,
             start_from: Optional[dict] = None) -> dict:
    """One distillation run; ``start_from``: a previous run's result whose student and
    connector weights it starts from (a checkpoint of this run, if any, wins)."""
    steps = steps_per_epoch(len(dataset.train), config.distill_batch_size)
    trainer = builders.distillation_trainer(config, dataset, teacher,
                                            steps * config.distill_epochs,
                                            binary_weights=binary_weights)
    if start_from:
        trainer.student.load_weights(start_from["student"])
        trainer.connector.load_weights(start_from["connector"])
    larq.models.summary(core_network(trainer.student))
    record = fit_stage(
        trainer, dataset, config, stage="distillation", stage_dir=stage_dir,
        tensorboard_dir=tensorboard_dir, views=config.view_sizes,
        validation_views=config.student_view_size, batch_size=config.distill_batch_size,
        epochs=config.distill_epochs,
        class_balanced=config.distill_sampling == "class_balanced",
        callbacks=[LambdaLog(os.path.join(stage_dir, LAMBDA_LOG), config.log_every)],
        select=config.select, tensorboard_every=1,
        keep={"student": trainer.student, "connector": trainer.connector})
    paths = {"student": os.path.join(stage_dir, STUDENT_FILE),
             "connector": os.path.join(stage_dir, CONNECTOR_FILE)}
    trainer.student.save_weights(paths["student"])
    trainer.connector.save_weights(paths["connector"])
    last = epoch_history(stage_dir)[-1]
    return {**paths, **record, "final_lambda": last["lambda"], "final_w2": last["w2"]}
