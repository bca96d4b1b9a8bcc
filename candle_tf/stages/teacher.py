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
from candle_tf.models.shipped_weights import shipped_weights
from candle_tf.models.teacher import (BACKBONES, build_encoder, build_pretrain_model,
                                      reference_view)

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
        encoder = build_encoder(config.teacher, weights)
        encoder.save_weights(path)
        return {"encoder": path, "source": config.teacher_weights, "weights": weights}
    encoder, _, record = pretrain(config, dataset, stage_dir, tensorboard_dir)
    encoder.save_weights(path)
    return {"encoder": path, "source": "pretrain (offline stand-in, balanced source split)",
            **record}


def pretrain(config: RunConfig, dataset: LongTailedDataset, stage_dir: str,
             tensorboard_dir: str
             ) -> Tuple[tf.keras.Model, tf.keras.Model, dict]:
    """(encoder, encoder + linear head, the fit's record): the backbone trained with CE on
    the balanced source split at the reference view's resolution, resumable."""
    if dataset.source_train is None:
        raise ValueError(
            f"--teacher_weights=pretrain needs a balanced source split, and {dataset.name} is "
            "natively long-tailed. Use --teacher_weights=imagenet, or PATH to a weights file.")
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
