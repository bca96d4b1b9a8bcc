"""Stages of the grid that CANDLE's own do not cover: a label-only student, MiSLAS's
classifier re-training, and evaluation with the classifier's weight norm per class.

They use the same student builder, data pipeline, optimiser, ``fit_resumable``, model
selection (``--select``: the best validation balanced accuracy, or the last epoch) and
evaluation as CANDLE's stages.
"""

import dataclasses
import os

import numpy as np

from candle_tf import builders, evaluate
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import evaluation_dataset, steps_per_epoch, training_dataset
from candle_tf.models.students import logits_model
from candle_tf.stages import calibration
from candle_tf.stages.distillation import STUDENT_FILE
from candle_tf.training import epoch_history, fit_resumable, selection_result
from trainers.baselines import (BaselineSettings, classifier_head, classifier_retraining_model,
                                fold_weight_scaling, label_trainer)


def train_label_student(method: str, config: RunConfig, dataset: LongTailedDataset,
                        settings: BaselineSettings, stage_dir: str,
                        tensorboard_dir: str) -> dict:
    """Trains the student of a label-only method (MiSLAS: stage 1) with the distillation
    schedule (distill_epochs, distill_batch_size, student_lr); writes its weights."""
    views = {"student": config.student_resolution}
    steps = steps_per_epoch(len(dataset.train), config.distill_batch_size)
    student = builders.student(config, dataset)
    trainer = label_trainer(method, student, dataset.train_counts, settings, steps,
                            config.distill_epochs)
    trainer.compile(optimizer=builders.student_optimizer(config, steps * config.distill_epochs))
    fit_resumable(
        trainer,
        training_dataset(dataset.train, config.distill_batch_size, views, config.augmentation,
                         seed=config.seed, channels=dataset.channels),
        stage="student", stage_dir=stage_dir, tensorboard_dir=tensorboard_dir,
        epochs=config.distill_epochs, steps_per_epoch=steps,
        validation=evaluation_dataset(dataset.val, config.eval_batch_size, views,
                                      config.eval_crop_fraction, dataset.channels),
        verbose=config.verbose, select=config.select, keep={"student": student})
    path = os.path.join(stage_dir, STUDENT_FILE)
    student.save_weights(path)
    return {"student": path, "val_accuracy": epoch_history(stage_dir)[-1]["val_accuracy"],
            **selection_result(stage_dir, config.select)}


def retrain_classifier(config: RunConfig, dataset: LongTailedDataset, student_path: str,
                       learning_rate: float, stage_dir: str, tensorboard_dir: str) -> dict:
    """MiSLAS stage 2: the calibration recipe on the frozen student's head + LWS, at its own
    learning rate; writes the student with LWS folded into its head.

    The binary student's pooled features are far larger than the calibrated teacher's
    (norm ~45 against ~5), so SGD at the teacher's calib_lr diverges on its head.
    """
    config = dataclasses.replace(config, calib_lr=learning_rate)
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    model = classifier_retraining_model(student)
    calibration.train_classifier(model, {"student": config.student_resolution}, config,
                                 dataset, "classifier", stage_dir, tensorboard_dir,
                                 select=config.select)
    fold_weight_scaling(student, model)
    path = os.path.join(stage_dir, STUDENT_FILE)
    student.save_weights(path)
    return {"student": path, "val_accuracy": epoch_history(stage_dir)[-1]["val_accuracy"],
            **selection_result(stage_dir, config.select)}


def weight_norms(kernel) -> list:
    """L2 norm of each class's column of a (features, classes) kernel."""
    return np.linalg.norm(np.asarray(kernel), axis=0).tolist()


def evaluate_student(config: RunConfig, dataset: LongTailedDataset, student_path: str) -> dict:
    """The long-tailed test report, balanced val top-1, classifier norms and the training
    class counts of a student."""
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    report = evaluate.evaluate(logits_model(student), dataset,
                               {"student": config.student_resolution},
                               config.eval_batch_size, config.eval_crop_fraction)
    return {**report, "classifier_norms": weight_norms(classifier_head(student).kernel),
            "train_counts": dataset.train_counts.tolist()}


def evaluate_teacher(config: RunConfig, dataset: LongTailedDataset, teacher_path: str) -> dict:
    """The same report for a calibrated teacher (its norms include the LWS scales)."""
    teacher = builders.load_calibrated_teacher(config, dataset, teacher_path)
    report = evaluate.evaluate(teacher, dataset, config.teacher_view_sizes,
                               config.eval_batch_size, config.eval_crop_fraction)
    kernel = teacher.get_layer("classifier").kernel * teacher.get_layer("lws").scales[None, :]
    return {**report, "classifier_norms": weight_norms(kernel),
            "train_counts": dataset.train_counts.tolist()}
