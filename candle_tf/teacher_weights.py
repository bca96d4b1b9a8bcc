"""``python -m candle_tf.teacher_weights``: make a teacher encoder weights file once.

Two routes to a file that ``--teacher_weights=PATH`` (or ``shipped``) loads later, offline:

* ``--source=imagenet`` (online): saves a ``keras.applications`` backbone's ImageNet
  weights, for a machine without internet access.
* ``--source=pretrain``: trains the backbone with cross-entropy on the balanced source
  split of ``--dataset`` (e.g. all 60,000 Fashion-MNIST training images), reports its
  accuracy on the balanced test split, and writes the file, its SHA-256 and the run's
  record (``--record_dir``). This is how the shipped stand-in teachers were made.

Resumable: the pretraining checkpoints every epoch under ``--workdir``.
"""

import dataclasses
import json
import os
import platform
import time

import numpy as np
import tensorflow as tf
from absl import flags

from candle_tf import app_flags, builders, evaluate
from candle_tf.config import RunConfig
from candle_tf.models.shipped_weights import sha256
from candle_tf.models.teacher import build_encoder, check_backbone
from candle_tf.fitting import epoch_history
from candle_tf.stages.teacher import pretrain

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("teacher", "mobilenet_v2_035", "keras.applications backbone (see "
                        "`python -m candle_tf.train --helpfull`, --teacher).")
    flags.DEFINE_enum("source", "pretrain", ["pretrain", "imagenet"],
                      "pretrain: train on --dataset's balanced source split; imagenet: save the "
                      "Keras ImageNet weights (needs internet).")
    flags.DEFINE_string("out", None, "Weights file to write (.weights.h5).")
    flags.DEFINE_string("dataset", "fashion_mnist_lt", "Data set whose balanced source split "
                        "the backbone is pretrained on (--source=pretrain).")
    flags.DEFINE_string("data_dir", "", "Where --dataset's files are (empty: its default).")
    flags.DEFINE_integer("resolution", 64, "Pretraining input size in px (the teacher view "
                         "size the weights are meant for).")
    flags.DEFINE_integer("epochs", 15, "Pretraining epochs over the whole source split.")
    flags.DEFINE_float("lr", 1e-3, "Adam peak learning rate (cosine decay to 0).")
    flags.DEFINE_integer("batch_size", 128, "Pretraining batch size.")
    flags.DEFINE_integer("images_per_class", 0, "Cap the source split per class (0 = all).")
    flags.DEFINE_string("augmentation", "crop_flip", "crop_flip | rrc_flip_jitter | none.")
    flags.DEFINE_integer("seed", 0, "Seed of the data order and the initialisation.")
    flags.DEFINE_string("workdir", "runs/teacher_weights", "Checkpoints, TensorBoard logs.")
    flags.DEFINE_string("record_dir", "", "Write <record_dir>/<out name>.json/.md: accuracy, "
                        "time, checksum (empty: no record).")
    flags.DEFINE_integer("verbose", 2, "Keras progress: 0, 1 or 2.")
    flags.mark_flag_as_required("out")


def save_imagenet(teacher: str, out: str) -> dict:
    encoder = build_encoder(teacher, "imagenet")
    encoder.save_weights(out)
    return {"teacher": teacher, "source": "imagenet"}


def pretrain_on_source(config: RunConfig, out: str) -> dict:
    """Pretrains ``config.teacher`` on the balanced source split; returns its record."""
    tf.keras.utils.set_random_seed(config.seed)
    dataset = builders.dataset(config)
    start = time.time()
    encoder, model, _ = pretrain(config, dataset, config.workdir,
                                 os.path.join(config.workdir, "tensorboard"))
    seconds = time.time() - start
    encoder.save_weights(out)
    resolution = config.resolutions[0]
    predictions = evaluate.predict(model, dataset.test, {"teacher_0": resolution},
                                   config.eval_batch_size, channels=dataset.channels)
    return {
        "teacher": config.teacher, "source": f"pretrain on {dataset.name}'s balanced source "
        f"split ({len(dataset.source_train)} images)", "dataset": dataset.name,
        "resolution": resolution, "epochs": config.pretrain_epochs, "lr": config.pretrain_lr,
        "batch_size": config.pretrain_batch_size, "augmentation": config.augmentation,
        "seed": config.seed, "train_seconds": round(seconds, 1),
        "val_accuracy_per_epoch": [round(float(v), 4)
                                   for v in (e["val_accuracy"] for e in
                                             epoch_history(config.workdir))],
        "test_accuracy": float(np.mean(predictions == dataset.test.labels)),
        "test_images": len(dataset.test),
    }


def run() -> dict:
    check_backbone(FLAGS.teacher)
    if not FLAGS.out.endswith(".weights.h5"):
        raise ValueError(f"--out={FLAGS.out!r} must end in .weights.h5 (Keras's weights "
                         "format), e.g. --out=teacher.weights.h5.")
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    if FLAGS.source == "imagenet":
        record = save_imagenet(FLAGS.teacher, FLAGS.out)
    else:
        config = dataclasses.replace(
            RunConfig(), dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
            teacher=FLAGS.teacher, teacher_weights="pretrain", imbalance_ratio=1.0,
            resolutions=(FLAGS.resolution,), pretrain_epochs=FLAGS.epochs,
            pretrain_lr=FLAGS.lr, pretrain_batch_size=FLAGS.batch_size,
            images_per_class=FLAGS.images_per_class, augmentation=FLAGS.augmentation,
            seed=FLAGS.seed, workdir=FLAGS.workdir, verbose=FLAGS.verbose)
        record = pretrain_on_source(config, FLAGS.out)
    record.update(out=FLAGS.out, bytes=os.path.getsize(FLAGS.out), sha256=sha256(FLAGS.out),
                  date=time.strftime("%Y-%m-%d"), machine=f"{os.cpu_count()} CPU cores, {platform.machine()}, no GPU")
    print("\n".join(f"{k}: {v}" for k, v in record.items()), flush=True)
    if FLAGS.record_dir:
        name = os.path.basename(FLAGS.out)[:-len(".weights.h5")]
        os.makedirs(FLAGS.record_dir, exist_ok=True)
        with open(os.path.join(FLAGS.record_dir, f"{name}.json"), "w") as handle:
            json.dump(record, handle, indent=2, allow_nan=False)
    return record


if __name__ == "__main__":
    app_flags.run_app(define_flags, run)
