import numpy as np
import tensorflow as tf

from candle_tf.losses import LabelAwareSmoothing
from candle_tf.models.teacher import build_calibrated_teacher, encoder_of
from tests.trainers.helpers import NUM_CLASSES, batch, snapshot, tiny_encoder, tiny_teacher
from trainers.calibrate import CalibrationTrainer


def test_encoder_is_bit_identical_and_the_head_learns():
    teacher = tiny_teacher(resolutions=(24, 16))
    encoder = teacher.get_layer("tiny_encoder")
    trainer = CalibrationTrainer(teacher, LabelAwareSmoothing(np.arange(NUM_CLASSES, 0, -1), 0.3, 0.0),
                                 ["teacher_0", "teacher_1"])
    trainer.compile(optimizer=tf.keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=5e-4))
    views, labels = batch(resolutions=(24, 16))
    encoder_before = snapshot(encoder.variables)  # kernels and BN moving statistics
    head_before = snapshot(teacher.get_layer("classifier").variables +
                           teacher.get_layer("lws").variables)
    losses = [float(trainer.train_on_batch(views, labels, return_dict=True)["loss"])
              for _ in range(8)]
    assert all(np.array_equal(a, b) for a, b in zip(encoder_before, snapshot(encoder.variables)))
    head_after = snapshot(teacher.get_layer("classifier").variables +
                          teacher.get_layer("lws").variables)
    assert all(not np.array_equal(a, b) for a, b in zip(head_before, head_after))
    assert losses[-1] < losses[0]
    assert trainer(views).shape == (16, NUM_CLASSES)


def test_fusion_concatenates_branches_to_the_encoder_width():
    teacher = tiny_teacher(resolutions=(32, 16, 8))
    logits, fused = teacher([batch(resolutions=(32, 16, 8))[0][f"teacher_{i}"]
                             for i in range(3)])
    # Encoder: 32 channels, stride 4; reference view = median resolution 16 -> 4x4 grid.
    assert fused.shape == (16, 4, 4, 32)
    widths = [teacher.get_layer(f"fusion_{i}").output_shape[-1] for i in range(3)]
    assert widths == [8, 16, 8]


def test_adapted_batch_norm_statistics_move_and_the_encoder_weights_do_not():
    """--calibration_bn=adapt: the frozen encoder's BN statistics follow the calibration
    data, its kernels and BN scales stay; in inference the teacher uses those statistics."""
    teacher = build_calibrated_teacher(tiny_encoder(), "tf", (16,), 1, NUM_CLASSES, "adapt")
    encoder = encoder_of(teacher)
    trainer = CalibrationTrainer(teacher, LabelAwareSmoothing(np.ones(NUM_CLASSES), 0.0, 0.0),
                                 ["teacher_0"], frozen_variables=encoder.variables)
    trainer.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    statistics = [v for v in encoder.variables if "moving_" in v.name]
    weights = [v for v in encoder.variables if "moving_" not in v.name]
    assert len(statistics) == 4 and weights
    statistics_before, weights_before = snapshot(statistics), snapshot(weights)
    views, labels = batch()
    inference_before = teacher([views["teacher_0"]], training=False)[0].numpy()
    trainer.train_on_batch(views, labels)
    assert all(not np.array_equal(a, b) for a, b in zip(statistics_before, snapshot(statistics)))
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, snapshot(weights)))
    teacher.trainable = False  # as distillation loads it: inference, adapted statistics
    inference_after = teacher([views["teacher_0"]], training=True)[0].numpy()
    assert not np.allclose(inference_before, inference_after)
    np.testing.assert_allclose(inference_after,
                               teacher([views["teacher_0"]], training=False)[0], rtol=1e-5)
