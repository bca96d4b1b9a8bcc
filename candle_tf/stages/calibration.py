"""Stage 1: calibrate the teacher on the LT data (frozen encoder; fusion + classifier + LWS)."""

import os
from typing import Dict, Optional

import tensorflow as tf

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import steps_per_epoch
from candle_tf.fitting import cosine_schedule, fit_stage, scaled_learning_rate
from candle_tf.losses import LabelAwareSmoothing
from candle_tf.models.teacher import encoder_of
from trainers.calibrate import CalibrationTrainer

TEACHER_FILE = "teacher.weights.h5"


def run(config: RunConfig, dataset: LongTailedDataset, encoder_path: str, stage_dir: str,
        tensorboard_dir: str) -> dict:
    """Writes ``<stage_dir>/teacher.weights.h5``; returns the validation accuracy.

    The teacher keeps its last epoch (no ``--select``: model selection is for the compared
    students, stage 2 and the baselines)."""
    teacher = builders.calibrated_teacher(config, dataset, encoder_path)
    record = train_classifier(teacher, config.teacher_view_sizes, config, dataset,
                              "calibration", stage_dir, tensorboard_dir,
                              frozen_variables=encoder_of(teacher).variables)
    path = os.path.join(stage_dir, TEACHER_FILE)
    teacher.save_weights(path)
    return {"teacher": path, **record}


def train_classifier(model: tf.keras.Model, views: Dict[str, int], config: RunConfig,
                     dataset: LongTailedDataset, stage: str, stage_dir: str,
                     tensorboard_dir: str, frozen_variables=(),
                     select: Optional[str] = None) -> dict:
    """The calibration recipe on the trainable part of ``model`` (views -> [logits, ...])
    but ``frozen_variables``.

    Label-aware smoothing, class-balanced sampling, SGD with warm-up + cosine, the calib_*
    settings. Also MiSLAS's stage 2 on a student whose body is frozen, where ``select``
    (``--select``) picks the epoch whose ``model`` is kept (``fit_resumable``); None: the
    last. Returns ``fit_stage``'s record.
    """
    trainer = CalibrationTrainer(
        model, LabelAwareSmoothing(dataset.train_counts, config.smoothing_head,
                                   config.smoothing_tail), list(views), frozen_variables)
    steps = steps_per_epoch(len(dataset.train), config.calib_batch_size)
    schedule = cosine_schedule(scaled_learning_rate(config.calib_lr, config.calib_batch_size),
                               steps * config.calib_epochs, steps * config.calib_warmup_epochs)
    trainer.compile(optimizer=tf.keras.optimizers.SGD(
        schedule, momentum=config.calib_momentum, weight_decay=config.calib_weight_decay))
    return fit_stage(trainer, dataset, config, stage=stage, stage_dir=stage_dir,
                     tensorboard_dir=tensorboard_dir, views=views,
                     batch_size=config.calib_batch_size, epochs=config.calib_epochs,
                     class_balanced=config.class_balanced, select=select,
                     keep={"model": model} if select else None)
