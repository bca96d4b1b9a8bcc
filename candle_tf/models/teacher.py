"""The full-precision teacher: a ``keras.applications`` encoder, multi-resolution fusion, LWS.

The calibrated teacher maps one view per resolution to ``[logits, fused_features]``:
each view goes through the shared, frozen encoder (always in inference mode), then its
own 1x1 conv + BN + LeakyReLU branch; the branches are resized to one grid and
concatenated into the multi-resolution feature map, whose global average pool feeds the
linear classifier and its per-class learnable weight scaling (LWS).
"""

import functools
import os
from dataclasses import dataclass
from typing import Callable, Dict, Sequence

import tensorflow as tf

from candle_tf.models.layers import (LearnableWeightScaling, PixelNormalization, ResizeToGrid,
                                     conv_bn_leaky)

apps = tf.keras.applications


@dataclass(frozen=True)
class Backbone:
    """A ``keras.applications`` constructor and the pixel convention its weights expect."""

    constructor: Callable[..., tf.keras.Model]
    normalization: str


BACKBONES: Dict[str, Backbone] = {
    "mobilenet_v2": Backbone(apps.MobileNetV2, "tf"),
    "mobilenet_v2_035": Backbone(functools.partial(apps.MobileNetV2, alpha=0.35), "tf"),
    "mobilenet_v3_small": Backbone(apps.MobileNetV3Small, "none"),
    "mobilenet_v3_large": Backbone(apps.MobileNetV3Large, "none"),
    "resnet50": Backbone(apps.ResNet50, "caffe"),
    "resnet101": Backbone(apps.ResNet101, "caffe"),
    "resnet152": Backbone(apps.ResNet152, "caffe"),
    "resnet50_v2": Backbone(apps.ResNet50V2, "tf"),
    "densenet121": Backbone(apps.DenseNet121, "torch"),
    "efficientnet_b0": Backbone(apps.EfficientNetB0, "none"),
    "efficientnet_v2_b0": Backbone(apps.EfficientNetV2B0, "none"),
    "efficientnet_v2_s": Backbone(apps.EfficientNetV2S, "none"),
    "efficientnet_v2_m": Backbone(apps.EfficientNetV2M, "none"),
    "convnext_tiny": Backbone(apps.ConvNeXtTiny, "none"),
}
WEIGHTS_CHOICES = "imagenet | shipped | pretrain | PATH to a local weights file"
SCRATCH_BN_MOMENTUM = 0.9


def check_backbone(name: str) -> Backbone:
    """The registered backbone, or an error listing the known ones."""
    if name not in BACKBONES:
        raise ValueError(f"Unknown --teacher={name!r}. Known backbones: "
                         f"{', '.join(sorted(BACKBONES))}.")
    return BACKBONES[name]


class ImagenetWeightsUnavailable(RuntimeError):
    """The ImageNet weights could not be downloaded (offline); the message gives the route
    to a local weights file."""


def build_encoder(name: str, weights: str) -> tf.keras.Model:
    """The backbone without its top, for any input size and 3 channels.

    ``weights``: "imagenet" (Keras's own download), "pretrain" or "none" (random
    initialisation, to be trained by the pretrain stage), or a path to a weights file.
    """
    backbone = check_backbone(name)
    if weights == "imagenet":
        try:
            return backbone.constructor(include_top=False, weights="imagenet",
                                        input_shape=(None, None, 3))
        except Exception as error:  # Keras raises several types for a failed download.
            raise ImagenetWeightsUnavailable(
                f"Could not get the ImageNet weights of --teacher={name} ({error}). For a "
                f"machine without internet, save them once where there is internet: "
                f"`python -m candle_tf.teacher_weights --source=imagenet --teacher={name} "
                f"--out={name}.weights.h5`, copy the file here and pass "
                f"--teacher_weights={name}.weights.h5.") from error
    encoder = backbone.constructor(include_top=False, weights=None,
                                   input_shape=(None, None, 3))
    for layer in encoder.layers:
        # keras.applications use momentum 0.99-0.999, tuned for long ImageNet schedules:
        # after a short pretraining its moving statistics would still be near their
        # initial values. Momentum is a training setting: loaded weights are unaffected.
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.momentum = SCRATCH_BN_MOMENTUM
    if weights not in ("pretrain", "none"):
        if not os.path.exists(weights):
            raise FileNotFoundError(f"--teacher_weights={weights!r}: no such file. Use "
                                    f"{WEIGHTS_CHOICES}.")
        encoder.load_weights(weights)
    return encoder


def feature_grid(encoder: tf.keras.Model, resolution: int) -> int:
    """Spatial size of the encoder's feature map for a square input of ``resolution``."""
    probe = encoder(tf.zeros((1, resolution, resolution, 3)), training=False)
    return int(probe.shape[1])


def branch_channels(total: int, num_views: int, reference: int) -> list:
    """Fusion branch widths: the reference view gets C/2, the others share the rest.

    Three views give C/4, C/2, C/4 (the paper's split); one view gets all of C.
    """
    if num_views == 1:
        return [total]
    others = (total // 2) // (num_views - 1)
    widths = [others] * num_views
    widths[reference] = total - others * (num_views - 1)
    return widths


def reference_view(resolutions: Sequence[int]) -> int:
    """Index of the median resolution, whose grid and C/2 branch anchor the fusion."""
    ranked = sorted(range(len(resolutions)), key=lambda i: resolutions[i])
    return ranked[(len(ranked) - 1) // 2]


def build_pretrain_model(encoder: tf.keras.Model, normalization: str, resolution: int,
                         channels: int, num_classes: int) -> tf.keras.Model:
    """Encoder + pooled linear head, trained with plain CE on a balanced split (stage 0)."""
    pixels = tf.keras.Input((resolution, resolution, channels), name="teacher_0")
    x = PixelNormalization(normalization, 3, name="normalize")(pixels)
    x = tf.keras.layers.GlobalAveragePooling2D()(encoder(x))
    logits = tf.keras.layers.Dense(num_classes, name="pretrain_head")(x)
    return tf.keras.Model(pixels, logits, name="pretrain_teacher")


CALIBRATION_BN = ("adapt", "frozen")


def build_calibrated_teacher(encoder: tf.keras.Model, normalization: str,
                             resolutions: Sequence[int], channels: int,
                             num_classes: int, calibration_bn: str = "frozen"
                             ) -> tf.keras.Model:
    """Views ``teacher_i`` (one per resolution) -> ``[logits, fused_features]``.

    ``calibration_bn="frozen"``: the encoder always runs with ``training=False``, so its
    weights and batch-norm statistics never change. ``"adapt"``: the encoder follows the
    model's training flag, so training (calibration) updates its batch-norm statistics to
    the data it sees; its weights stay frozen because the calibration trainer leaves out
    ``encoder_of(teacher)``'s variables. In inference (``trainable=False`` or
    ``training=False``) both are the same network.
    """
    if calibration_bn not in CALIBRATION_BN:
        raise ValueError(f"--calibration_bn={calibration_bn!r}: use one of "
                         f"{', '.join(CALIBRATION_BN)}.")
    adapt = calibration_bn == "adapt"
    encoder.trainable = adapt
    reference = reference_view(resolutions)
    grid = feature_grid(encoder, resolutions[reference])
    total = encoder.output_shape[-1]
    normalize = PixelNormalization(normalization, 3, name="normalize")
    views, branches = [], []
    for i, (resolution, width) in enumerate(
            zip(resolutions, branch_channels(total, len(resolutions), reference))):
        view = tf.keras.Input((resolution, resolution, channels), name=f"teacher_{i}")
        features = encoder(normalize(view), training=None if adapt else False)
        branch = conv_bn_leaky(width, name=f"fusion_{i}")(features)
        branches.append(ResizeToGrid(grid, name=f"to_grid_{i}")(branch))
        views.append(view)
    fused = (tf.keras.layers.Concatenate(name="fused_features")(branches) if len(branches) > 1
             else tf.keras.layers.Activation("linear", name="fused_features")(branches[0]))
    pooled = tf.keras.layers.GlobalAveragePooling2D(name="pool")(fused)
    logits = tf.keras.layers.Dense(num_classes, name="classifier")(pooled)
    logits = LearnableWeightScaling(name="lws")(logits)
    return tf.keras.Model(views, [logits, fused], name="calibrated_teacher")


def encoder_of(teacher: tf.keras.Model) -> tf.keras.Model:
    """The backbone inside a calibrated teacher (its one nested model)."""
    return next(layer for layer in teacher.layers if isinstance(layer, tf.keras.Model))


def teacher_view_names(num_resolutions: int) -> list:
    """Input names of the calibrated teacher's views, in order."""
    return [f"teacher_{i}" for i in range(num_resolutions)]
