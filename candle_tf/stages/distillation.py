"""Stage 2: distil the frozen calibrated teacher into the binary student."""

import csv
import os
import shutil
from typing import Optional

import larq
import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.datasets import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from candle_tf.models.students import core_network
from candle_tf.training import fit_resumable
from candle_tf.workdir import Workdir

STUDENT_FILE = "student.weights.h5"
CONNECTOR_FILE = "connector.weights.h5"
STEP1, STEP2 = "step1_real_weights", "step2_binary"
LAMBDA_LOG = "lambda.csv"


class LambdaLog(tf.keras.callbacks.Callback):
    """Appends step, lambda, L_KL and L_FS of every training step to a CSV file."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        new = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["step", "lambda", "l_kl", "l_fs"])
            writer.writerow([step] + [f"{float(logs[k]):.6g}" for k in ("lambda", "l_kl", "l_fs")])


def run(config: RunConfig, dataset: LongTailedDataset, teacher_path: str, stage_dir: str,
        tensorboard_dir: str) -> dict:
    """Writes ``<stage_dir>/student.weights.h5``, ``connector.weights.h5`` and ``lambda.csv``.

    With ``--two_step`` (ReActNet's recipe), step 1 distils a student with binary
    activations and real weights into ``<stage_dir>/step1_real_weights/``; step 2 copies
    its student and connector into the binary student and distils that into
    ``<stage_dir>/step2_binary/``. Each step has its own checkpoint and done marker, so an
    interrupted step resumes and a finished one is skipped.
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
    return {**step2, **final, "step1_val_accuracy": step1["val_accuracy"]}


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
    history = fit_resumable(
        trainer,
        training_dataset(dataset.train, config.distill_batch_size, config.view_sizes,
                         config.augmentation, seed=config.seed,
                         channels=dataset.channels),
        stage="distillation", stage_dir=stage_dir, tensorboard_dir=tensorboard_dir,
        epochs=config.distill_epochs, steps_per_epoch=steps,
        validation=evaluation_dataset(dataset.val, config.eval_batch_size,
                                      {"student": config.student_resolution},
                                      config.eval_crop_fraction, dataset.channels),
        callbacks=[LambdaLog(os.path.join(stage_dir, LAMBDA_LOG))], verbose=config.verbose)
    paths = {"student": os.path.join(stage_dir, STUDENT_FILE),
             "connector": os.path.join(stage_dir, CONNECTOR_FILE)}
    trainer.student.save_weights(paths["student"])
    trainer.connector.save_weights(paths["connector"])
    return {**paths, "val_accuracy": float(history.history["val_accuracy"][-1]),
            "final_lambda": float(history.history["lambda"][-1])}
