import numpy as np
import pytest
import tensorflow as tf

from candle_tf.losses import effective_number_weights
from candle_tf.losses import LabelAwareSmoothing
from candle_tf.models.students import core_network
from tests.trainers.helpers import NUM_CLASSES, batch, snapshot, tiny_binary_student
from candle_tf.config import RunConfig
from candle_tf.models.heads import (classifier_head, classifier_retraining_model,
                                    fold_weight_scaling)
from candle_tf.stages.baseline import label_trainer
from trainers.baselines import mixup
from trainers.calibrate import CalibrationTrainer

COUNTS = np.maximum(1, (500 * 0.02 ** (np.arange(NUM_CLASSES) / (NUM_CLASSES - 1)))).astype(int)


def tiny_student():
    return tiny_binary_student(16)


def compiled(method, steps_per_epoch=5, epochs=10, config=RunConfig()):
    trainer = label_trainer(method, tiny_student(), COUNTS,
                            config.replace(distill_epochs=epochs), steps_per_epoch)
    trainer.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    return trainer


def test_drw_switches_to_class_balanced_weights_at_its_epoch():
    trainer = compiled("ldam_drw", steps_per_epoch=5, epochs=10,
                       config=RunConfig(drw_start=0.8, cb_beta=0.999))
    weights = trainer.class_weights
    np.testing.assert_array_equal(weights(0), np.ones(NUM_CLASSES))
    np.testing.assert_array_equal(weights(8 * 5 - 1), np.ones(NUM_CLASSES))  # epoch 8 of 10
    np.testing.assert_allclose(weights(8 * 5), effective_number_weights(COUNTS, 0.999))
    np.testing.assert_allclose(weights(10 * 5), effective_number_weights(COUNTS, 0.999))


def test_class_balanced_loss_weights_every_example_by_its_class_from_the_start():
    trainer = compiled("cb")
    views, labels = batch()
    logits = trainer.network(views["student"], training=True)[0]
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(labels, tf.int32), logits)
    weights = effective_number_weights(COUNTS, 0.9999)[labels.numpy()]
    expected = np.mean(per_example.numpy() * weights)
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert np.isclose(logs["loss"], expected, rtol=1e-4)


def test_ldam_drw_fits_a_batch():
    trainer = compiled("ldam_drw", steps_per_epoch=4, epochs=5)  # DRW from step 16 on
    views, labels = batch()
    losses = [trainer.train_on_batch(views, labels, return_dict=True)["loss"] for _ in range(12)]
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]


def test_mixup_pairs_each_image_with_a_partner_and_its_label():
    tf.random.set_seed(3)
    pixels = tf.reshape(tf.range(6, dtype=tf.float32), [6, 1, 1, 1]) * tf.ones([6, 2, 2, 1])
    labels = tf.constant([10, 11, 12, 13, 14, 15])
    mixed, partner_labels, weight = mixup(pixels, labels, alpha=1.0)
    weight = float(weight)
    assert 0.0 < weight < 1.0
    partners = (mixed.numpy()[:, 0, 0, 0] - weight * np.arange(6)) / (1.0 - weight)
    partners = np.round(partners).astype(int)
    assert sorted(partners) == list(range(6))  # a permutation of the batch
    np.testing.assert_array_equal(partner_labels.numpy(), 10 + partners)


def test_classifier_retraining_moves_only_head_and_lws_then_folds_into_the_student(tmp_path):
    student = tiny_student()
    model = classifier_retraining_model(student)
    head = classifier_head(student)
    body = [w for layer in core_network(student).layers if layer is not head
            for w in layer.weights]  # kernels and batch-norm moving statistics
    body_before = snapshot(body)
    trainer = CalibrationTrainer(model, LabelAwareSmoothing(COUNTS, 0.3, 0.0), ["student"])
    trainer.compile(optimizer=tf.keras.optimizers.SGD(0.5, momentum=0.9))
    views, labels = batch()
    for _ in range(5):
        trainer.train_on_batch(views, labels)
    assert all(np.array_equal(a, b) for a, b in zip(body_before, snapshot(body)))
    scales = model.get_layer("lws").scales.numpy()
    assert not np.allclose(scales, 1.0)
    expected = model(views["student"])[0].numpy()
    fold_weight_scaling(student, model)
    path = str(tmp_path / "student.weights.h5")
    student.save_weights(path)
    fresh = tiny_student()
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh(views["student"])[0], expected, rtol=1e-4, atol=1e-4)


def test_unknown_label_method_is_refused():
    with pytest.raises(ValueError, match="'focal' is not a label-only method"):
        label_trainer("focal", tiny_student(), COUNTS, RunConfig(), 1)
