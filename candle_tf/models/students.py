"""Registry of binary students. Adding a student is one entry in ``STUDENTS``.

A registered builder takes ``(input_shape, num_classes, options)`` and returns a model
from normalised images to ``[logits, features]``. ``build_student`` puts the pixel
normalisation in front, so every student takes raw pixels in [0, 255].
"""

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import tensorflow as tf

from candle_tf.models.layers import PixelNormalization
from candle_tf.models.reactnet import reactnet_a


@dataclass(frozen=True)
class StudentOptions:
    """Architecture options a student may use (each builder reads what applies)."""

    width_multiplier: float = 1.0
    stem_stride: int = 2
    binary_weights: bool = True


def _reactnet_a(input_shape, num_classes, options: StudentOptions) -> tf.keras.Model:
    return reactnet_a(input_shape, num_classes, width_multiplier=options.width_multiplier,
                      stem_stride=options.stem_stride, binary_weights=options.binary_weights)


STUDENTS: Dict[str, Callable[..., tf.keras.Model]] = {
    "reactnet_a": _reactnet_a,
}


def check_student(name: str) -> Callable[..., tf.keras.Model]:
    """The registered builder, or an error listing the known students."""
    if name not in STUDENTS:
        raise ValueError(f"Unknown --student={name!r}. Known: {', '.join(sorted(STUDENTS))}.")
    return STUDENTS[name]


def build_student(name: str, input_shape: Tuple[int, int, int], num_classes: int,
                  options: StudentOptions = StudentOptions()) -> tf.keras.Model:
    """Raw pixels -> ``[logits, features]``; the core network is the layer named ``name``."""
    core = check_student(name)(input_shape, num_classes, options)
    pixels = tf.keras.Input(input_shape, name="student")
    logits, features = core(PixelNormalization("student", input_shape[-1], name="normalize")(pixels))
    return tf.keras.Model(pixels, [logits, features], name=f"{name}_student")


def core_network(student: tf.keras.Model) -> tf.keras.Model:
    """The binary network inside a student built by ``build_student``."""
    return next(layer for layer in student.layers if isinstance(layer, tf.keras.Model))


def logits_model(student: tf.keras.Model) -> tf.keras.Model:
    """Single-output view (raw pixels -> logits) for evaluation and export."""
    return tf.keras.Model(student.input, student.outputs[0], name=f"{student.name}_logits")
