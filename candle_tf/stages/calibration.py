"""Stage 1: calibrate the teacher on the LT data (frozen encoder; fusion + classifier + LWS)."""

import os
from typing import Dict, Optional

import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from candle_tf.losses import LabelAwareSmoothing
from candle_tf.models.teacher import encoder_of
from candle_tf.training import WarmupCosine, epoch_history, fit_resumable, scaled_learning_rate
from trainers.calibrate import CalibrationTrainer

TEACHER_FILE = "teacher.weights.h5"


def run(config: RunConfig, dataset: LongTailedDataset, encoder_path: str, stage_dir: str,
        tensorboard_dir: str) -> dict:
    """Writes ``<stage_dir>/teacher.weights.h5``; returns the validation accuracy.

    The teacher keeps its last epoch (no ``--select``: model selection is for the compared
    students, stage 2 and the baselines)."""
    teacher = builders.calibrated_teacher(config, dataset, encoder_path)
    train_classifier(teacher, config.teacher_view_sizes, config, dataset, "calibration",
                     stage_dir, tensorboard_dir, frozen_variables=encoder_of(teacher).variables)
    path = os.path.join(stage_dir, TEACHER_FILE)
    teacher.save_weights(path)
    return {"teacher": path, "val_accuracy": epoch_history(stage_dir)[-1]["val_accuracy"]}


def train_classifier(model: tf.keras.Model, views: Dict[str, int], config: RunConfig,
                     dataset: LongTailedDataset, stage: str, stage_dir: str,
                     tensorboard_dir: str, frozen_variables=(),
                     select: Optional[str] = None) -> tf.keras.callbacks.History:
    """The calibration recipe on the trainable part of ``model`` (views -> [logits, ...])
    but ``frozen_variables``.

    Label-aware smoothing, class-balanced sampling, SGD with warm-up + cosine, the calib_*
    settings. Also MiSLAS's stage 2 on a student whose body is frozen, where ``select``
    (``--select``) picks the epoch whose ``model`` is kept (``fit_resumable``); None: the
    last.
    """
    trainer = CalibrationTrainer(
        model, LabelAwareSmoothing(dataset.train_counts, config.smoothing_head,
                                   config.smoothing_tail), list(views), frozen_variables)
    steps = steps_per_epoch(len(dataset.train), config.calib_batch_size)
    schedule = WarmupCosine(scaled_learning_rate(config.calib_lr, config.calib_batch_size),
                            steps * config.calib_epochs, steps * config.calib_warmup_epochs)
    trainer.compile(optimizer=tf.keras.optimizers.SGD(
        schedule, momentum=config.calib_momentum, weight_decay=config.calib_weight_decay))
    return fit_resumable(
        trainer,
        training_dataset(dataset.train, config.calib_batch_size, views, config.augmentation,
                         class_balanced=config.class_balanced, seed=config.seed,
                         channels=dataset.channels),
        stage=stage, stage_dir=stage_dir, tensorboard_dir=tensorboard_dir,
        epochs=config.calib_epochs, steps_per_epoch=steps,
        validation=evaluation_dataset(dataset.val, config.eval_batch_size, views,
                                      config.eval_crop_fraction, dataset.channels),
        verbose=config.verbose, select=select, keep={"model": model} if select else None)
