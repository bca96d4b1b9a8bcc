"""Builds every model of a run from its RunConfig, so each stage (and each tuner trial)
constructs the same architecture and loads the previous stage's weights."""

import dataclasses
from typing import Sequence

import tensorflow as tf

from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.registry import load_dataset
from candle_tf.models.balancer import build_balancer
from candle_tf.models.connector import build_connector
from candle_tf.models.students import StudentOptions, build_student
from candle_tf.models.teacher import (BACKBONES, build_calibrated_teacher, build_encoder,
                                      teacher_view_names)
from candle_tf.fitting import cosine_schedule, scaled_learning_rate
from trainers.distill import DistillationTrainer, Objective


def dataset(config: RunConfig) -> LongTailedDataset:
    """The run's data set, drawn and capped as its settings say."""
    return load_dataset(config.dataset, config.data_dir, config.imbalance_ratio, config.seed,
                        config.images_per_class, config.pretrain_images_per_class,
                        config.val_per_class)


def calibrated_teacher(config: RunConfig, dataset: LongTailedDataset,
                       encoder_weights: str = "none") -> tf.keras.Model:
    """The calibrated-teacher architecture (encoder weights from a file, or random)."""
    encoder = build_encoder(config.teacher, encoder_weights)
    return build_calibrated_teacher(encoder, BACKBONES[config.teacher].normalization,
                                    config.resolutions, dataset.image_shape[-1],
                                    dataset.num_classes, config.calibration_bn)


def load_calibrated_teacher(config: RunConfig, dataset: LongTailedDataset,
                            weights_path: str) -> tf.keras.Model:
    """The frozen calibrated teacher with the weights stage 1 wrote."""
    teacher = calibrated_teacher(config, dataset)
    teacher.load_weights(weights_path)
    teacher.trainable = False
    return teacher


def student(config: RunConfig, dataset: LongTailedDataset, binary_weights: bool = True,
            any_resolution: bool = False) -> tf.keras.Model:
    """The binary student for the data set's image shape and classes.

    ``any_resolution`` leaves its input size open, for a student run on several views.
    """
    size = None if any_resolution else config.student_resolution
    channels = dataset.image_shape[-1]
    return build_student(config.student, (size, size, channels), dataset.num_classes,
                         student_options(config, binary_weights))


def student_options(config: RunConfig, binary_weights: bool = True) -> StudentOptions:
    """The student architecture options a run's settings give."""
    return StudentOptions(config.width_multiplier, config.stem_stride, binary_weights)


def objective(config: RunConfig) -> Objective:
    """The distillation objective a run's settings give (its fields are RunConfig's)."""
    return Objective(**{spec.name: getattr(config, spec.name)
                        for spec in dataclasses.fields(Objective)})


def distillation_trainer(config: RunConfig, dataset: LongTailedDataset,
                         teacher: tf.keras.Model, total_steps: int,
                         student_views: Sequence[str] = ("student",),
                         binary_weights: bool = True) -> DistillationTrainer:
    """Compiled DistillationTrainer: Adam + cosine for the student (and, with the head
    pass, a second one for its classifier), Adam + cosine ascent for the balancer.
    ``student_views``: see DistillationTrainer; ``binary_weights`` False: step 1 of the
    two-step recipe (binary activations, real weights)."""
    goal = objective(config)
    student_model = student(config, dataset, binary_weights=binary_weights,
                            any_resolution=tuple(student_views) != ("student",))
    teacher_features = teacher.outputs[1].shape
    student_features = student_model.outputs[1].shape
    if goal.feature_target == "pooled":
        connector = build_connector((None, 1, 1, student_features[-1]), teacher_features[-1], 1)
    else:
        connector = build_connector(student_features, teacher_features[-1],
                                    teacher_features[1])
    trainer = DistillationTrainer(
        student_model, connector, teacher, build_balancer(config.balancer_hidden),
        teacher_view_names(len(config.resolutions)), dataset.train_counts, goal,
        total_steps=total_steps, student_views=student_views)
    trainer.compile(
        optimizer=student_optimizer(config, total_steps),
        head_optimizer=student_optimizer(config, total_steps) if goal.head_pass else None,
        balancer_optimizer=tf.keras.optimizers.Adam(
            cosine_schedule(config.balancer_lr, total_steps)))
    return trainer


def student_optimizer(config: RunConfig, total_steps: int) -> tf.keras.optimizers.Optimizer:
    """The student's optimiser in every method: Adam, student_lr scaled by batch / 128,
    cosine decay over ``total_steps``."""
    student_lr = scaled_learning_rate(config.student_lr, config.distill_batch_size)
    return tf.keras.optimizers.Adam(cosine_schedule(student_lr, total_steps))
