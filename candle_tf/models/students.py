"""Registry of binary students. Adding a student is one entry in ``STUDENTS``.

A registered ``Student.build`` takes ``(input_shape, num_classes, options)`` and returns a
model from normalised images to ``[logits, features]``. ``build_student`` puts the pixel
normalisation in front, so every student takes raw pixels in [0, 255].

Left out of larq-zoo: DoReFaNet (2-bit activations, not a binary network: LCE cannot run
it with binary kernels), BinaryAlexNet and XNORNet (AlexNet-style 11x11/4 stems and
"valid" pooling that need inputs of at least 57 and 217 px; XNORNet's 6x6 4096-channel
conv alone holds 38 M weights). Each is one ``STUDENTS`` entry away if wanted.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import tensorflow as tf
from absl import logging

from candle_tf.models.layers import PixelNormalization
from candle_tf.models.reactnet import reactnet_a
from candle_tf.models.zoo import zoo_student


@dataclass(frozen=True)
class StudentOptions:
    """Architecture options a student may use (each builder reads what applies)."""

    width_multiplier: float = 1.0
    stem_stride: int = 2
    binary_weights: bool = True


@dataclass(frozen=True)
class Student:
    """A student builder, the input sides it handles, and the options it reads.

    Input sides must be at least ``min_resolution`` and a multiple of
    ``resolution_multiple``. ``options`` names the ``StudentOptions`` fields the builder
    honours; without "binary_weights" there is no real-weights variant (step 1 of the
    two-step recipe).
    """

    build: Callable[[Tuple[int, int, int], int, StudentOptions], tf.keras.Model]
    min_resolution: int = 1
    resolution_multiple: int = 1
    options: Tuple[str, ...] = ()


def _reactnet_a(input_shape, num_classes, options: StudentOptions) -> tf.keras.Model:
    return reactnet_a(input_shape, num_classes, width_multiplier=options.width_multiplier,
                      stem_stride=options.stem_stride, binary_weights=options.binary_weights)


def _zoo(module: str, function: str, min_resolution: int = 1, resolution_multiple: int = 1,
         head_activation: str = "linear") -> Student:
    """A larq-zoo network as published (no options apply)."""
    def build(input_shape, num_classes, options):
        return zoo_student(module, function, input_shape, num_classes, head_activation)
    return Student(build, min_resolution, resolution_multiple)


# The smallest sides whose last feature map is not empty ("valid" 2x2 max pooling in
# QuickNet's and BinaryDenseNet's transitions); BinaryResNetE18 adds its "valid" 2x2
# average-pool shortcut to a "same" strided conv, which needs even sides at every
# downsampling: multiples of 32 always work. tests/models/test_students.py checks each.
STUDENTS: Dict[str, Student] = {
    "reactnet_a": Student(_reactnet_a, options=("width_multiplier", "stem_stride",
                                                "binary_weights")),
    "quicknet": _zoo("sota", "QuickNet", 29, head_activation="relu"),
    "quicknet_small": _zoo("sota", "QuickNetSmall", 29, head_activation="relu"),
    "quicknet_large": _zoo("sota", "QuickNetLarge", 29, head_activation="relu"),
    "birealnet": _zoo("literature", "BiRealNet"),
    "binary_resnet_e18": _zoo("literature", "BinaryResNetE18", resolution_multiple=32),
    "binary_densenet28": _zoo("literature", "BinaryDenseNet28", 8),
    "binary_densenet37": _zoo("literature", "BinaryDenseNet37", 8),
    "binary_densenet37_dilated": _zoo("literature", "BinaryDenseNet37Dilated", 2),
    "binary_densenet45": _zoo("literature", "BinaryDenseNet45", 8),
    "real_to_binary_net": _zoo("literature", "RealToBinaryNet"),
    "meliusnet22": _zoo("literature", "MeliusNet22"),
}

_DEFAULT_OPTIONS = StudentOptions()


def check_student(name: str, resolution: Optional[int] = None,
                  options: StudentOptions = _DEFAULT_OPTIONS) -> Student:
    """The registered student, or an error naming the flag to change.

    ``resolution`` None (any input size) skips the size check. Options the student does
    not read are logged once, not silently dropped.
    """
    if name not in STUDENTS:
        raise ValueError(f"Unknown --student={name!r}. Known: {', '.join(sorted(STUDENTS))}.")
    student = STUDENTS[name]
    if resolution is not None and resolution < student.min_resolution:
        raise ValueError(
            f"--student={name} needs inputs of at least {student.min_resolution} px (its "
            f"last feature map is empty at {resolution} px). Use "
            f"--student_resolution={student.min_resolution} or more, or a student for "
            "small images such as reactnet_a.")
    if resolution is not None and resolution % student.resolution_multiple:
        multiple = student.resolution_multiple
        fit = max(multiple, (resolution + multiple - 1) // multiple * multiple)
        raise ValueError(
            f"--student={name} needs an input side that is a multiple of {multiple} px "
            f"(its shortcuts do not line up at {resolution} px). Use "
            f"--student_resolution={fit}, or another multiple of {multiple}.")
    if not options.binary_weights and "binary_weights" not in student.options:
        raise ValueError(
            f"--student={name} has no real-weights variant, which step 1 of --two_step "
            "needs. Drop --two_step or use --student=reactnet_a.")
    ignored = [field for field in ("width_multiplier", "stem_stride")
               if getattr(options, field) != getattr(_DEFAULT_OPTIONS, field)
               and field not in student.options]
    if ignored:
        logging.log_first_n(logging.WARNING, "--student=%s is built as published; it ignores "
                            "%s.", 1, name, ", ".join(f"--{field}" for field in ignored))
    return student


def build_student(name: str, input_shape: Tuple[Optional[int], Optional[int], int],
                  num_classes: int, options: StudentOptions = _DEFAULT_OPTIONS
                  ) -> tf.keras.Model:
    """Raw pixels -> ``[logits, features]``; the core network is its one nested model."""
    student = check_student(name, input_shape[0], options)
    core = student.build(input_shape, num_classes, options)
    pixels = tf.keras.Input(input_shape, name="student")
    normalized = PixelNormalization("student", input_shape[-1], name="normalize")(pixels)
    logits, features = core(normalized)
    return tf.keras.Model(pixels, [logits, features], name=f"{name}_student")


def core_network(student: tf.keras.Model) -> tf.keras.Model:
    """The binary network inside a student built by ``build_student``."""
    return next(layer for layer in student.layers if isinstance(layer, tf.keras.Model))


def logits_model(student: tf.keras.Model) -> tf.keras.Model:
    """Single-output view (raw pixels -> logits) for evaluation and export."""
    return tf.keras.Model(student.input, student.outputs[0], name=f"{student.name}_logits")
