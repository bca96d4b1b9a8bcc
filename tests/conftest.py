"""Test set-up: quiet TensorFlow, seeded, small."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def _seed():
    # Python's random too: Keras draws unseeded initialisers' seeds from it.
    tf.keras.utils.set_random_seed(0)
    tf.keras.backend.clear_session()
