"""Stage 0: the pretrained full-precision teacher encoder.

``imagenet``, ``shipped`` or a weights file: the off-the-shelf encoder is saved into the
work dir. ``pretrain``: the backbone is trained on the *balanced* source training split
(the offline stand-in for an off-the-shelf teacher) and saved, at its last epoch (no
``--select``: model selection is for the compared students).
"""

import os
from typing import Tuple

import tensorflow as tf
from absl import logging

from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.pipeline import steps_per_epoch
from candle_tf.fitting import cosine_schedule, fit_stage
from candle_tf.models.shipped_weights import SHIPPED, shipped_weights
from candle_tf.models.teacher import (BACKBONES, ImagenetWeightsUnavailable, build_encoder,
                                      build_pretrain_model, reference_view)

ENCODER_FILE = "encoder.weights.h5"


def run(config: RunConfig, dataset: LongTailedDataset, stage_dir: str,
        tensorboard_dir: str) -> dict:
    """Writes ``<stage_dir>/encoder.weights.h5``; returns what the encoder is."""
    path = os.path.join(stage_dir, ENCODER_FILE)
    if config.teacher_weights != "pretrain":
        weights = config.teacher_weights
        if weights == "shipped":
            weights = shipped_weights(config.teacher, dataset.name,
                                      config.resolutions[reference_view(config.resolutions)])
        try:
            encoder = build_encoder(config.teacher, weights)
        except ImagenetWeightsUnavailable as error:
            raise ImagenetWeightsUnavailable(f"{error} {offline_alternatives(config, dataset)}") \
                from error
        encoder.save_weights(path)
        return {"encoder": path, "source": config.teacher_weights, "weights": weights}
    encoder, _, record = pretrain(config, dataset, stage_dir, tensorboard_dir)
    encoder.save_weights(path)
    return {"encoder": path, "source": "pretrain (offline stand-in, balanced source split)",
            **record}


def offline_alternatives(config: RunConfig, dataset: LongTailedDataset) -> str:
    """The other offline routes to a teacher that apply to this run."""
    resolution = config.resolutions[reference_view(config.resolutions)]
    if (config.teacher, dataset.name, resolution) in SHIPPED:
        return "Or use the encoder shipped with candle_tf: --teacher_weights=shipped."
    if dataset.source_train is not None:
        return (f"Or pretrain --teacher={config.teacher} on {dataset.name}'s balanced source "
                f"split now: --teacher_weights=pretrain.")
    return (f"{dataset.name} is natively long-tailed (no balanced split to pretrain on); to "
            f"pretrain offline on balanced images of your own instead: `python -m "
            f"candle_tf.teacher_weights --source=pretrain --dataset=folder:BALANCED_DIR "
            f"--teacher={config.teacher} --resolution={resolution} --out=FILE`, then "
            f"--teacher_weights=FILE.")


def pretrain(config: RunConfig, dataset: LongTailedDataset, stage_dir: str,
             tensorboard_dir: str
             ) -> Tuple[tf.keras.Model, tf.keras.Model, dict]:
    """(encoder, encoder + linear head, the fit's record): the backbone trained with CE on
    the balanced source split at the reference view's resolution, resumable."""
    if dataset.source_train is None:
        raise ValueError(
            f"--teacher_weights=pretrain needs a balanced split to pretrain on. Online: "
            f"--teacher_weights=imagenet. {offline_alternatives(config, dataset)}")
    resolution = config.resolutions[reference_view(config.resolutions)]
    message = (f"Teacher {config.teacher}: no off-the-shelf weights requested, pretraining "
               f"it on the balanced {dataset.name} source split ({len(dataset.source_train)} "
               f"images, {resolution} px) as the offline stand-in for a pretrained model.")
    logging.info(message)
    print(message, flush=True)
    encoder = build_encoder(config.teacher, "pretrain")
    model = build_pretrain_model(encoder, BACKBONES[config.teacher].normalization, resolution,
                                 dataset.image_shape[-1], dataset.num_classes)
    steps = steps_per_epoch(len(dataset.source_train), config.pretrain_batch_size)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(
            cosine_schedule(config.pretrain_lr, steps * config.pretrain_epochs)),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    record = fit_stage(model, dataset, config, stage="teacher", stage_dir=stage_dir,
                       tensorboard_dir=tensorboard_dir, views={"teacher_0": resolution},
                       batch_size=config.pretrain_batch_size, epochs=config.pretrain_epochs,
                       source=True)
    return encoder, model, record
