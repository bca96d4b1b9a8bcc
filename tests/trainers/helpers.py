"""Tiny real models for the trainer tests (a real keras encoder, a real binary student)."""

import tensorflow as tf

from candle_tf.models.balancer import build_balancer
from candle_tf.models.connector import build_connector
from candle_tf.models.students import StudentOptions, build_student
from candle_tf.models.teacher import build_calibrated_teacher

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


def tiny_student_parts(teacher, size=16):
    """Student (``size`` None: any input size), connector to the teacher's map, balancer."""
    student = build_student("reactnet_a", (size, size, 1), NUM_CLASSES,
                            StudentOptions(width_multiplier=0.25, stem_stride=1))
    features = teacher.outputs[1].shape
    connector = build_connector(student.outputs[1].shape, features[-1], features[1])
    return student, connector, build_balancer()


def batch(size=16, resolutions=(16,), seed=0):
    generator = tf.random.Generator.from_seed(seed)
    images = generator.uniform((size, 16, 16, 1), 0, 255)
    views = {"student": images}
    views.update({f"teacher_{i}": tf.image.resize(images, (r, r))
                  for i, r in enumerate(resolutions)})
    return views, generator.uniform((size,), 0, NUM_CLASSES, dtype=tf.int64)


def snapshot(variables):
    return [v.numpy().copy() for v in variables]
