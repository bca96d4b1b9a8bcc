"""Stage 2 of a label-only baseline (the grid's): the binary student trained on the labels
with a long-tailed loss, and MiSLAS's classifier re-training.

They use the same student builder, data pipeline, optimiser, fit sequence, model
selection (``--select``) and evaluation as CANDLE's stages.
"""

import os

import numpy as np

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import steps_per_epoch
from candle_tf.fitting import fit_stage
from candle_tf.losses import (CrossEntropy, LDAMLoss, LogitAdjustedLoss, balanced_softmax,
                              effective_number_weights)
from candle_tf.models.heads import classifier_retraining_model, fold_weight_scaling
from candle_tf.stages import calibration
from candle_tf.stages.distillation import STUDENT_FILE
from trainers.baselines import DeferredClassWeights, LabelTrainer


def label_trainer(method: str, student, class_counts, config: RunConfig,
                  steps_per_epoch_: int) -> LabelTrainer:
    """The (uncompiled) LabelTrainer of a label-only method of the method table
    (``candle_tf/experiments/methods.py``); MiSLAS: its stage 1."""
    counts = np.asarray(class_counts)
    reweighting = DeferredClassWeights(effective_number_weights(counts, config.cb_beta))
    if method in ("ce", "ce_cb_sampling"):  # the latter on class-balanced batches
        return LabelTrainer(student, CrossEntropy())
    if method == "cb":
        return LabelTrainer(student, CrossEntropy(), reweighting)
    if method == "balanced_softmax":
        return LabelTrainer(student, balanced_softmax(counts))
    if method == "logit_adjusted":
        return LabelTrainer(student, LogitAdjustedLoss(counts, config.logit_adjust_tau))
    if method == "ldam_drw":
        drw_epoch = int(config.drw_start * config.distill_epochs)
        return LabelTrainer(
            student, LDAMLoss(counts, config.ldam_max_margin, config.ldam_scale),
            DeferredClassWeights(reweighting.weights, start_step=drw_epoch * steps_per_epoch_))
    if method == "mislas":
        return LabelTrainer(student, CrossEntropy(), mixup_alpha=config.mixup_alpha)
    raise ValueError(f"{method!r} is not a label-only method; see "
                     "candle_tf/experiments/methods.py.")


def train_label_student(method: str, config: RunConfig, dataset: LongTailedDataset,
                        stage_dir: str, tensorboard_dir: str) -> dict:
    """Trains the student of a label-only method (MiSLAS: stage 1) with the distillation
    schedule (distill_epochs, distill_batch_size, student_lr, distill_sampling); writes its
    weights."""
    steps = steps_per_epoch(len(dataset.train), config.distill_batch_size)
    student = builders.student(config, dataset)
    trainer = label_trainer(method, student, dataset.train_counts, config, steps)
    trainer.compile(optimizer=builders.student_optimizer(config, steps * config.distill_epochs))
    record = fit_stage(trainer, dataset, config, stage="student", stage_dir=stage_dir,
                       tensorboard_dir=tensorboard_dir, views=config.student_view_size,
                       batch_size=config.distill_batch_size, epochs=config.distill_epochs,
                       class_balanced=config.distill_sampling == "class_balanced",
                       select=config.select, keep={"student": student})
    path = os.path.join(stage_dir, STUDENT_FILE)
    student.save_weights(path)
    return {"student": path, **record}


def retrain_classifier(config: RunConfig, dataset: LongTailedDataset, student_path: str,
                       stage_dir: str, tensorboard_dir: str) -> dict:
    """MiSLAS stage 2: the calibration recipe on the frozen student's head + LWS, at
    ``--mislas_lr``; writes the student with LWS folded into its head.

    The binary student's pooled features are far larger than the calibrated teacher's
    (norm ~45 against ~5), so SGD at the teacher's calib_lr diverges on its head.
    """
    config = config.replace(calib_lr=config.mislas_lr)
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    model = classifier_retraining_model(student)
    record = calibration.train_classifier(model, config.student_view_size, config, dataset,
                                          "classifier", stage_dir, tensorboard_dir,
                                          select=config.select)
    fold_weight_scaling(student, model)
    path = os.path.join(stage_dir, STUDENT_FILE)
    student.save_weights(path)
    return {"student": path, **record}
