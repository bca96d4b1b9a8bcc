"""Stage 0 offline: when the ImageNet weights cannot be downloaded, the first error gives
the one route that works for this run's data set."""

import dataclasses

import numpy as np
import pytest

from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.data.split import Split
from candle_tf.models import teacher as teacher_models
from candle_tf.stages import teacher


def dataset(name: str, balanced_source: bool) -> LongTailedDataset:
    split = Split(np.zeros((4, 8, 8, 3), np.uint8), np.array([0, 1, 0, 1]))
    return LongTailedDataset(name, ("a", "b"), split, split, split,
                             split if balanced_source else None)


@pytest.fixture
def offline(monkeypatch):
    """keras.applications' download fails, as it does without internet."""
    def no_download(**kwargs):
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")
    backbone = teacher_models.BACKBONES["mobilenet_v2_035"]
    monkeypatch.setitem(teacher_models.BACKBONES, "mobilenet_v2_035",
                        dataclasses.replace(backbone, constructor=no_download))


@pytest.mark.parametrize("name, balanced_source, route", [
    ("places_lt", False, "`python -m candle_tf.teacher_weights --source=pretrain "
                         "--dataset=folder:BALANCED_DIR --teacher=mobilenet_v2_035"),
    ("cifar10_lt", True, "Or pretrain --teacher=mobilenet_v2_035 on cifar10_lt's balanced "
                         "source split now: --teacher_weights=pretrain."),
    ("fashion_mnist_lt", True, "Or use the encoder shipped with candle_tf: "
                               "--teacher_weights=shipped."),
])
def test_offline_imagenet_error_names_the_route_that_works(offline, tmp_path, name,
                                                           balanced_source, route):
    config = RunConfig(teacher="mobilenet_v2_035", teacher_weights="imagenet",
                       resolutions=(64,))
    with pytest.raises(teacher_models.ImagenetWeightsUnavailable) as error:
        teacher.run(config, dataset(name, balanced_source), str(tmp_path), str(tmp_path))
    message = str(error.value)
    assert "Temporary failure in name resolution" in message
    assert ("python -m candle_tf.teacher_weights --source=imagenet --teacher=mobilenet_v2_035 "
            "--out=mobilenet_v2_035.weights.h5`, copy the file here and pass "
            "--teacher_weights=mobilenet_v2_035.weights.h5.") in message
    assert route in message
    if not balanced_source:
        assert "--teacher_weights=pretrain" not in message  # it would be refused
