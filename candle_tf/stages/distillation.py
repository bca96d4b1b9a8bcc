"""Stage 2: distil the frozen calibrated teacher into the binary student."""

import csv
import os

import larq
import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.datasets import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from candle_tf.models.students import core_network
from candle_tf.training import fit_resumable

STUDENT_FILE = "student.weights.h5"
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
    """Writes ``<stage_dir>/student.weights.h5`` and ``lambda.csv``."""
    teacher = builders.load_calibrated_teacher(config, dataset, teacher_path)
    steps = steps_per_epoch(len(dataset.train), config.distill_batch_size)
    trainer = builders.distillation_trainer(config, dataset, teacher,
                                            steps * config.distill_epochs)
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
    path = os.path.join(stage_dir, STUDENT_FILE)
    trainer.student.save_weights(path)
    return {"student": path, "val_accuracy": float(history.history["val_accuracy"][-1]),
            "final_lambda": float(history.history["lambda"][-1])}
