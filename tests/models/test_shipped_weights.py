"""--teacher_weights=shipped: the shipped encoder loads after its checksum check, and a
damaged, missing or unknown one is refused with the fix."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.models import shipped_weights
from candle_tf.models.shipped_weights import SHIPPED, ShippedWeights, sha256
from candle_tf.models.teacher import build_encoder

KEY = ("mobilenet_v2_035", "fashion_mnist_lt", 64)


def test_the_shipped_encoder_loads_with_its_checksum():
    path = shipped_weights.shipped_weights(*KEY)
    assert sha256(path) == SHIPPED[KEY].sha256
    encoder = build_encoder("mobilenet_v2_035", path)
    random = build_encoder("mobilenet_v2_035", "none")
    trained = [w for w in encoder.get_weights() if w.ndim == 4]
    assert any(not np.allclose(a, b) for a, b in zip(trained, random.get_weights()))
    assert encoder(tf.zeros((1, 64, 64, 3))).shape == (1, 2, 2, 1280)


def test_a_damaged_or_missing_file_is_refused(tmp_path, monkeypatch):
    damaged = tmp_path / SHIPPED[KEY].file
    shutil.copy(SHIPPED[KEY].path, damaged)
    with open(damaged, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))
    monkeypatch.setattr(shipped_weights, "WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"differs from the shipped [0-9a-f]{64}; the file is damaged.*git checkout --"):
        shipped_weights.shipped_weights(*KEY)
    monkeypatch.setitem(SHIPPED, KEY, ShippedWeights("gone.weights.h5", "0" * 64, "CMD"))
    with pytest.raises(FileNotFoundError, match="missing from this checkout.*CMD"):
        shipped_weights.shipped_weights(*KEY)


def test_no_shipped_encoder_for_other_settings_names_what_is_shipped():
    with pytest.raises(ValueError, match=r"no shipped encoder for --teacher=resnet50 "
                                         r"--dataset=fashion_mnist_lt at 64 px\. Shipped: "
                                         r"--teacher=mobilenet_v2_035"):
        shipped_weights.shipped_weights("resnet50", "fashion_mnist_lt", 64)
