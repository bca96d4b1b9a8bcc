"""ReActNet's two-step recipe in stage 2: step 2 starts from step 1's weights, ends binary,
and each step is skipped once done."""

import os

import larq as lq
import numpy as np
import pytest

from candle_tf import builders, export
from candle_tf.config import RunConfig
from candle_tf.data.registry import load_dataset
from candle_tf.fitting import epoch_history, scaled_learning_rate
from candle_tf.models.students import core_network
from candle_tf.stages import distillation

pytestmark = pytest.mark.slow  # stage 2 twice on real data, the real ReActNet-A

# About 80 LT images: one step per epoch at batch 128, one epoch per step of the recipe.
CONFIG = RunConfig(images_per_class=20, imbalance_ratio=10, teacher="mobilenet_v2_035",
                   resolutions=(32,), student_resolution=16, width_multiplier=0.25,
                   stem_stride=1, distill_epochs=1, distill_batch_size=128,
                   eval_batch_size=64, augmentation="none", two_step=True, verbose=0)
# One Adam step moves each variable by at most the learning rate.
LEARNING_RATE = scaled_learning_rate(CONFIG.student_lr, CONFIG.distill_batch_size)


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("fashion_mnist_lt", imbalance_ratio=CONFIG.imbalance_ratio,
                        seed=CONFIG.seed, images_per_class=CONFIG.images_per_class)


@pytest.fixture(scope="module")
def two_step_run(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("two_step")
    teacher_path = str(root / "teacher.weights.h5")
    builders.calibrated_teacher(CONFIG, dataset).save_weights(teacher_path)
    stage_dir = str(root / "distillation")
    os.makedirs(stage_dir)
    result = distillation.run(CONFIG, dataset, teacher_path, stage_dir, str(root / "board"))
    return result, teacher_path, stage_dir


def _student(dataset, path, binary_weights):
    student = builders.student(CONFIG, dataset, binary_weights=binary_weights)
    student.load_weights(path)
    return core_network(student)


def _variable_pairs(step1, step2):
    """(layer of step 2, variable name, step-1 value, step-2 value) of every trainable one."""
    for layer1, layer2 in zip(step1.layers, step2.layers):
        for w1, w2 in zip(layer1.trainable_weights, layer2.trainable_weights):
            assert w1.name == w2.name
            yield layer2, w2.name, w1.numpy(), w2.numpy()


def test_step2_starts_from_step1_and_ends_binary(dataset, two_step_run):
    result, _, stage_dir = two_step_run
    step1_dir = os.path.join(stage_dir, distillation.STEP1)
    step2_dir = os.path.join(stage_dir, distillation.STEP2)
    step1 = _student(dataset, os.path.join(step1_dir, distillation.STUDENT_FILE), False)
    step2 = _student(dataset, result["student"], True)
    fresh = core_network(builders.student(CONFIG, dataset))
    assert result["student"] == os.path.join(stage_dir, distillation.STUDENT_FILE)
    with open(result["student"], "rb") as final, open(
            os.path.join(step2_dir, distillation.STUDENT_FILE), "rb") as last_step:
        assert final.read() == last_step.read()

    assert export.count_binary_convs(step1) == 0  # binary activations, real weights
    assert export.count_binary_convs(step2) == 31  # both binary
    moved, far_from_fresh = 0, 0
    for (layer, name, start, end), (_, _, _, init) in zip(_variable_pairs(step1, step2),
                                                          _variable_pairs(step1, fresh)):
        if isinstance(layer, lq.layers.QuantConv2D) and name.endswith("kernel:0"):
            start = np.clip(start, -1, 1)  # step 2's weight_clip
        # One step from step 1's values: within one learning rate of them.
        assert np.max(np.abs(end - start)) <= LEARNING_RATE * 1.001, name
        moved += not np.allclose(end, start)
        far_from_fresh += np.max(np.abs(init - start)) > 10 * LEARNING_RATE
    assert moved > 0 and far_from_fresh > 0
    # Step 2's binary convs compute with sign(W) times one scale per output channel.
    with lq.context.quantized_scope(True):
        for layer in step2.layers:
            if isinstance(layer, lq.layers.QuantConv2D):
                magnitudes = np.abs(layer.kernel.numpy())
                per_channel = magnitudes.max(axis=(0, 1, 2))
                np.testing.assert_allclose(magnitudes, np.broadcast_to(per_channel,
                                                                       magnitudes.shape),
                                           rtol=1e-5)


def test_connector_is_carried_over(two_step_run):
    result, _, stage_dir = two_step_run
    step1_connector = os.path.join(stage_dir, distillation.STEP1, distillation.CONNECTOR_FILE)
    assert os.path.exists(step1_connector) and os.path.exists(result["connector"])
    # Step 1's record: the validation accuracy of the epoch it kept (its only one here).
    step1_history = epoch_history(os.path.join(stage_dir, distillation.STEP1))
    assert result["step1_val_accuracy"] == step1_history[-1]["val_accuracy"]
    assert 0.0 < result["final_lambda"] < 1.0  # the balancer's softmax weight


def test_a_finished_step_is_skipped(dataset, two_step_run, capsys):
    _, teacher_path, stage_dir = two_step_run
    step1_file = os.path.join(stage_dir, distillation.STEP1, distillation.STUDENT_FILE)
    step1_time = os.path.getmtime(step1_file)
    os.remove(os.path.join(stage_dir, distillation.STEP2, "done.json"))  # step 2 "interrupted"
    capsys.readouterr()
    distillation.run(CONFIG, dataset, teacher_path, stage_dir,
                     os.path.join(os.path.dirname(stage_dir), "board"))
    out = capsys.readouterr().out
    assert f"{distillation.STEP1} — already done" in out
    assert f"== stage 2: {distillation.STEP2} " in out
    assert os.path.getmtime(step1_file) == step1_time
