"""Long-tailed baselines on the binary student: the same student, data, optimiser and
evaluation as CANDLE, only the training signal differs.

- ``LabelTrainer``: the student learns from the labels alone with a long-tailed loss,
  optional per-class weights (re-weighting, DRW) and optional mixup. ``label_trainer``
  builds it for each label-only method in ``LABEL_METHODS``.
- MiSLAS's stage 2 re-trains the classifier of a stage-1 student with label-aware
  smoothing and LWS through ``trainers.calibrate.CalibrationTrainer``
  (``classifier_retraining_model``), then folds LWS into the head (``fold_weight_scaling``)
  so that the result is a plain student again.

Plain KD and the CANDLE ablations are settings of ``trainers.distill.DistillationTrainer``
(``candle_tf/experiments/methods.py``).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import tensorflow as tf

from candle_tf.distribute import global_batch_loss
from candle_tf.long_tailed_losses import (CrossEntropy, LDAMLoss, LogitAdjustedLoss,
                                          balanced_softmax, effective_number_weights)
from candle_tf.models.layers import LearnableWeightScaling
from candle_tf.models.students import core_network
from trainers.logits_trainer import LogitsTrainer

LABEL_METHODS = ("ce", "cb", "balanced_softmax", "ldam_drw", "logit_adjusted", "mislas")


@dataclass(frozen=True)
class BaselineSettings:
    """The baselines' own hyper-parameters (their papers' defaults)."""

    cb_beta: float = 0.9999          # effective-number beta of re-weighting and DRW
    ldam_max_margin: float = 0.5     # margin of the rarest class
    ldam_scale: float = 30.0         # s, the logit scale of LDAM
    drw_start: float = 0.8           # DRW re-weights from this fraction of the epochs on
    logit_adjust_tau: float = 1.0    # tau of the logit-adjusted loss
    mixup_alpha: float = 1.0         # Beta(alpha, alpha) of MiSLAS's stage-1 mixup
    mislas_lr: float = 1e-3          # SGD lr (per 128) of MiSLAS's classifier re-training
    kd_ce_weight: float = 1.0        # label term of plain KD and of candle_bs_label


class DeferredClassWeights:
    """Per-class loss weights: all 1 before ``start_step``, ``weights`` from then on."""

    def __init__(self, weights, start_step: int = 0):
        self.weights = tf.constant(weights, tf.float32)
        self.start_step = int(start_step)

    def __call__(self, step) -> tf.Tensor:
        started = tf.cast(step, tf.int64) >= self.start_step
        return tf.where(started, self.weights, tf.ones_like(self.weights))


def mixup(pixels, labels, alpha: float):
    """Mixes every image with a random partner of the batch (Zhang et al. 2018).

    Returns ``(w * x + (1 - w) * x_partner, partner labels, w)`` with w ~ Beta(alpha, alpha),
    one w per batch.
    """
    draws = tf.random.gamma([2], alpha)
    weight = draws[0] / (draws[0] + draws[1])
    partners = tf.random.shuffle(tf.range(tf.shape(pixels)[0]))
    mixed = weight * pixels + (1.0 - weight) * tf.gather(pixels, partners)
    return mixed, tf.gather(labels, partners), weight


class LabelTrainer(LogitsTrainer):
    """The student trained on the labels with a per-example long-tailed loss.

    Under a tf.distribute strategy the loss differentiated is the replica's mean / the
    number of replicas (``candle_tf.distribute.global_batch_loss``), like CANDLE's trainers.

    Args:
      student: raw pixels -> ``[logits, features]``.
      loss_fn: ``(labels, logits)`` -> per-example loss.
      class_weights: ``step -> per-class weights`` multiplying each example's loss, or None.
      mixup_alpha: > 0 trains on mixup batches (loss mixed with the same weight).
    """

    def __init__(self, student: tf.keras.Model, loss_fn: tf.keras.losses.Loss,
                 class_weights: Optional[DeferredClassWeights] = None,
                 mixup_alpha: float = 0.0, **kwargs):
        super().__init__(student, **kwargs)
        self.loss_fn = loss_fn
        self.class_weights, self.mixup_alpha = class_weights, float(mixup_alpha)

    def call(self, views, training=False):
        return self.network(views["student"], training=training)[0]

    def label_loss(self, labels, logits) -> tf.Tensor:
        """Mean over the batch of the (class-weighted) per-example loss."""
        losses = self.loss_fn(labels, logits)
        if self.class_weights is not None:
            weights = self.class_weights(self.optimizer.iterations)
            losses = losses * tf.gather(weights, tf.cast(tf.reshape(labels, [-1]), tf.int32))
        return tf.reduce_mean(losses)

    def train_step(self, data):
        views, labels = data
        pixels = views["student"]
        with tf.GradientTape() as tape:
            if self.mixup_alpha > 0:
                pixels, partners, weight = mixup(pixels, labels, self.mixup_alpha)
                logits = self.network(pixels, training=True)[0]
                loss = (weight * self.label_loss(labels, logits)
                        + (1.0 - weight) * self.label_loss(partners, logits))
            else:
                logits = self.network(pixels, training=True)[0]
                loss = self.label_loss(labels, logits)
            replica_loss = global_batch_loss(loss)
        return self.descend(tape, replica_loss, loss, labels, logits)

    def test_step(self, data):
        views, labels = data
        logits = self(views, training=False)
        self.accuracy.update_state(labels, logits)
        self.balanced_accuracy.update_state(labels, logits)
        return {"accuracy": self.accuracy.result(),
                "balanced_accuracy": self.balanced_accuracy.result()}


def label_trainer(method: str, student: tf.keras.Model, class_counts,
                  settings: BaselineSettings, steps_per_epoch: int,
                  epochs: int) -> LabelTrainer:
    """The (uncompiled) LabelTrainer of a label-only method; MiSLAS: its stage 1."""
    counts = np.asarray(class_counts)
    if method == "ce":
        return LabelTrainer(student, CrossEntropy())
    if method == "cb":
        return LabelTrainer(student, CrossEntropy(), DeferredClassWeights(
            effective_number_weights(counts, settings.cb_beta)))
    if method == "balanced_softmax":
        return LabelTrainer(student, balanced_softmax(counts))
    if method == "logit_adjusted":
        return LabelTrainer(student, LogitAdjustedLoss(counts, settings.logit_adjust_tau))
    if method == "ldam_drw":
        drw_epoch = int(settings.drw_start * epochs)
        return LabelTrainer(
            student, LDAMLoss(counts, settings.ldam_max_margin, settings.ldam_scale),
            DeferredClassWeights(effective_number_weights(counts, settings.cb_beta),
                                 start_step=drw_epoch * steps_per_epoch))
    if method == "mislas":
        return LabelTrainer(student, CrossEntropy(), mixup_alpha=settings.mixup_alpha)
    raise ValueError(f"Unknown label-only method {method!r}; known: {', '.join(LABEL_METHODS)}.")


def classifier_head(student: tf.keras.Model) -> tf.keras.layers.Dense:
    """The Dense layer that produces the student's logits."""
    head = core_network(student).outputs[0].node.layer
    if not isinstance(head, tf.keras.layers.Dense):
        raise ValueError(f"The logits of {student.name} come from {head.name!r}, not a Dense "
                         "layer: classifier re-training and weight norms need a linear head.")
    return head


def classifier_retraining_model(student: tf.keras.Model) -> tf.keras.Model:
    """MiSLAS stage 2: raw pixels -> ``[LWS(logits), features]`` with only the head and LWS
    trainable; the body is frozen (its batch norms in inference mode)."""
    head = classifier_head(student)
    for layer in core_network(student).layers:
        layer.trainable = layer is head
    pixels = tf.keras.Input(student.input_shape[1:], name="student")
    logits, features = student(pixels)
    scaled = LearnableWeightScaling(name="lws")(logits)
    return tf.keras.Model(pixels, [scaled, features], name="classifier_retraining")


def fold_weight_scaling(student: tf.keras.Model, retraining_model: tf.keras.Model) -> None:
    """Moves the learnt LWS scales into the student's head (kernel and bias times s)."""
    scales = retraining_model.get_layer("lws").scales
    head = classifier_head(student)
    head.kernel.assign(head.kernel * scales[None, :])
    if head.use_bias:
        head.bias.assign(head.bias * scales)
