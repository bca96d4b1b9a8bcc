"""Tiny real models for the trainer tests: a small keras encoder with batch norm, and a
small binary student with the registered students' contract (raw pixels -> [logits,
features]; one nested core network whose Dense "logits" reads the pooled features)."""

import larq
import numpy as np
import tensorflow as tf

from candle_tf.models.balancer import build_balancer
from candle_tf.models.connector import build_connector
from candle_tf.models.layers import PixelNormalization
from candle_tf.models.teacher import build_calibrated_teacher, teacher_view_names
from trainers.distill import DistillationTrainer, Objective

NUM_CLASSES = 50


def tiny_encoder() -> tf.keras.Model:
    """A small conv encoder with batch norm (its moving statistics must not move)."""
    pixels = tf.keras.Input((None, None, 3))
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same")(pixels)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="same")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    return tf.keras.Model(pixels, tf.keras.layers.ReLU()(x), name="tiny_encoder")


def tiny_teacher(resolutions=(16,)) -> tf.keras.Model:
    return build_calibrated_teacher(tiny_encoder(), "tf", resolutions, 1, NUM_CLASSES)


def tiny_binary_student(size=16, channels=1) -> tf.keras.Model:
    """An FP stem, two binary convolutions (sign activations and weights, larq), global
    pooling and a Dense "logits" head: ReActNet-A's structure at a fraction of its cost."""
    binary = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                  kernel_constraint="weight_clip", padding="same", pad_values=1.0,
                  use_bias=False)
    inputs = tf.keras.Input((size, size, channels))
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = larq.layers.QuantConv2D(16, 3, **binary)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = larq.layers.QuantConv2D(32, 3, strides=2, **binary)(x)
    features = tf.keras.layers.BatchNormalization()(x)
    pooled = tf.keras.layers.GlobalAveragePooling2D()(features)
    logits = tf.keras.layers.Dense(NUM_CLASSES, name="logits")(pooled)
    core = tf.keras.Model(inputs, [logits, features], name="tiny_binary")
    pixels = tf.keras.Input((size, size, channels), name="student")
    outputs = core(PixelNormalization("student", channels, name="normalize")(pixels))
    return tf.keras.Model(pixels, outputs, name="tiny_binary_student")


def tiny_student_parts(teacher, size=16, feature_target="map"):
    """Student (``size`` None: any input size), connector to the teacher's map (or its
    pooled feature), balancer."""
    student = tiny_binary_student(size)
    features = teacher.outputs[1].shape
    if feature_target == "pooled":
        connector = build_connector((None, 1, 1, student.outputs[1].shape[-1]), features[-1], 1)
    else:
        connector = build_connector(student.outputs[1].shape, features[-1], features[1])
    return student, connector, build_balancer()


# The earlier reading of the method: lambda * L_KL + (1 - lambda) * L_FS on the maps.
KL_FS = Objective(balance="kl_fs", head_pass=False, feature_target="map", kl_reduction="batch")
# A prior with a head (class 0) and a tail: the class-balanced KL differs from the KL.
COUNTS = np.geomspace(100, 1, NUM_CLASSES).round()


def distillation_trainer(teacher, objective=KL_FS, student_size=16, student_views=("student",),
                         optimizer=None, head_optimizer=None, balancer_optimizer=None,
                         total_steps=100):
    """A compiled DistillationTrainer on the tiny parts (Adam by default)."""
    student, connector, balancer = tiny_student_parts(teacher, student_size,
                                                      objective.feature_target)
    trainer = DistillationTrainer(student, connector, teacher, balancer,
                                  teacher_view_names(len(teacher.inputs)), COUNTS, objective,
                                  total_steps=total_steps, student_views=student_views)
    trainer.compile(optimizer=optimizer or tf.keras.optimizers.Adam(1e-2),
                    head_optimizer=head_optimizer or (
                        tf.keras.optimizers.Adam(1e-2) if objective.head_pass else None),
                    balancer_optimizer=balancer_optimizer or tf.keras.optimizers.Adam(0.05))
    return trainer


def batch(size=16, resolutions=(16,), seed=0):
    generator = tf.random.Generator.from_seed(seed)
    images = generator.uniform((size, 16, 16, 1), 0, 255)
    views = {"student": images}
    views.update({f"teacher_{i}": tf.image.resize(images, (r, r))
                  for i, r in enumerate(resolutions)})
    return views, generator.uniform((size,), 0, NUM_CLASSES, dtype=tf.int64)


def snapshot(variables):
    return [v.numpy().copy() for v in variables]
