"""--distill_sampling: the batches stage 2 (distillation, or a label-only baseline) trains
on are drawn per instance or per class."""

import dataclasses
import os

import numpy as np
import pytest

from candle_tf import builders, fitting
from candle_tf.config import RunConfig
from candle_tf.data.registry import load_dataset
from candle_tf.stages import baseline, distillation

pytestmark = pytest.mark.slow  # stage 2 once per sampling, on real data

# 10 classes from 20 down to 2 images (ratio 10): one step of 128 images per epoch.
CONFIG = RunConfig(images_per_class=20, imbalance_ratio=10, teacher="mobilenet_v2_035",
                   resolutions=(32,), student_resolution=16, width_multiplier=0.25,
                   stem_stride=1, distill_epochs=1, distill_batch_size=128,
                   eval_batch_size=64, augmentation="none", verbose=0)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("fashion_mnist_lt", imbalance_ratio=CONFIG.imbalance_ratio,
                        seed=CONFIG.seed, images_per_class=CONFIG.images_per_class)


def first_batch_labels(train, monkeypatch):
    """Runs ``train()`` and returns the labels of the first training batch it was given."""
    seen = []

    def recording_training_dataset(*args, **kwargs):
        batches = real_training_dataset(*args, **kwargs)
        seen.append(next(iter(batches))[1].numpy())
        return batches

    real_training_dataset = fitting.training_dataset
    monkeypatch.setattr(fitting, "training_dataset", recording_training_dataset)
    train()
    assert len(seen) == 1
    return seen[0]


def distil(config, dataset, root):
    teacher_path = os.path.join(root, "teacher.weights.h5")
    builders.calibrated_teacher(config, dataset).save_weights(teacher_path)
    stage_dir = os.path.join(root, "distillation")
    os.makedirs(stage_dir)
    distillation.run(config, dataset, teacher_path, stage_dir, os.path.join(root, "board"))


def train_ce(config, dataset, root):
    stage_dir = os.path.join(root, "student")
    os.makedirs(stage_dir)
    baseline.train_label_student("ce_cb_sampling", config, dataset, stage_dir,
                                 os.path.join(root, "board"))


@pytest.mark.parametrize("train, sampling", [(distil, "instance"), (distil, "class_balanced"),
                                             (train_ce, "class_balanced")])
def test_the_student_stage_draws_its_batches_as_the_flag_says(train, sampling, dataset,
                                                              tmp_path, monkeypatch):
    config = dataclasses.replace(CONFIG, distill_sampling=sampling)
    labels = first_batch_labels(lambda: train(config, dataset, str(tmp_path)), monkeypatch)
    drawn = np.bincount(labels, minlength=10) / len(labels)
    lt = np.bincount(dataset.train.labels, minlength=10) / len(dataset.train)
    assert lt[0] > 0.2 and lt[-1] < 0.03  # the LT training split: head 20, tail 2
    if sampling == "instance":  # the LT frequencies: head about 10x the tail
        assert drawn[0] > 0.12 and drawn[-1] < 0.06
    else:  # every class about 1/10, the tail's 2 images drawn over and over
        assert np.all(drawn > 0.03) and np.all(drawn < 0.2)
