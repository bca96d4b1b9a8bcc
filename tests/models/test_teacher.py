import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.models.layers import PixelNormalization
from candle_tf.models.teacher import branch_channels, build_encoder, reference_view


def test_branch_widths_follow_the_paper_and_sum_to_c():
    assert branch_channels(1280, 3, reference=1) == [320, 640, 320]
    assert branch_channels(1280, 1, reference=0) == [1280]
    assert sum(branch_channels(1000, 4, reference=2)) == 1000
    assert reference_view([480, 224, 128]) == 1 and reference_view([64]) == 0


def test_pixel_normalization_modes():
    grey = tf.constant([[[[0.0], [255.0]]]])
    rgb = PixelNormalization("tf", 3)(grey)
    assert rgb.shape == (1, 1, 2, 3)
    assert np.allclose(rgb.numpy()[0, 0, :, 0], [-1.0, 1.0])
    assert np.allclose(PixelNormalization("student", 1)(grey).numpy().ravel(), [-1.0, 1.0])
    with pytest.raises(ValueError, match="Unknown normalisation mode"):
        PixelNormalization("bgr", 3)


def test_local_weights_file_is_loaded(tmp_path):
    source = build_encoder("mobilenet_v2_035", "pretrain")
    source.layers[1].kernel.assign(tf.fill(source.layers[1].kernel.shape, 0.25))
    path = str(tmp_path / "encoder.weights.h5")
    source.save_weights(path)
    loaded = build_encoder("mobilenet_v2_035", path)
    assert all(np.array_equal(a, b) for a, b in zip(source.get_weights(), loaded.get_weights()))
    with pytest.raises(FileNotFoundError, match="no such file"):
        build_encoder("mobilenet_v2_035", str(tmp_path / "missing.h5"))


def test_imagenet_without_network_says_what_to_do(tmp_path):
    # A proxy on a closed loopback port makes the real Keras download fail, online or not.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
           "KERAS_HOME": str(tmp_path)}  # no cached weights
    code = ("from candle_tf.models.teacher import build_encoder\n"
            "try:\n    build_encoder('mobilenet_v2_035', 'imagenet')\n"
            "except RuntimeError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert "Could not get the ImageNet weights of --teacher=mobilenet_v2_035" in result.stdout
    assert ("`python -m candle_tf.teacher_weights --source=imagenet --teacher=mobilenet_v2_035 "
            "--out=mobilenet_v2_035.weights.h5`") in result.stdout
