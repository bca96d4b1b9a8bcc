"""Multi-resolution in distillation: through the teacher only (default), or also the student."""

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.losses import feature_similarity, kl_distillation
from candle_tf.models.teacher import teacher_view_names
from tests.trainers.helpers import KL_FS, batch, distillation_trainer, snapshot, tiny_teacher

RESOLUTIONS = (32, 16, 8)
TEACHER_VIEWS = teacher_view_names(len(RESOLUTIONS))
# Tiny encoder: 32 channels, stride 4; the fused map is on the median (16 px) grid.
FUSED_SHAPE = (16, 4, 4, 32)


def make_trainer(student_size=16, student_views=("student",)):
    """The feature term on the fused map (KL_FS's feature target), to test its grid."""
    return distillation_trainer(tiny_teacher(RESOLUTIONS), KL_FS, student_size, student_views,
                                balancer_optimizer=tf.keras.optimizers.Adam(1e-3),
                                total_steps=10)


def assert_one_step_trains_only_the_student(trainer, views, labels):
    student_before = snapshot(trainer.student.trainable_variables)
    teacher_before = snapshot(trainer.teacher.variables)
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert all(np.isfinite(logs[k]) for k in ("loss", "l_kl", "l_fs", "lambda"))
    assert any(not np.array_equal(a, b) for a, b in
               zip(student_before, snapshot(trainer.student.trainable_variables)))
    assert all(np.array_equal(a, b) for a, b in
               zip(teacher_before, snapshot(trainer.teacher.variables)))


def test_student_sees_only_its_view_and_fs_targets_the_fused_map():
    trainer = make_trainer()
    views, labels = batch(resolutions=RESOLUTIONS)
    terms = trainer.distillation_terms(views, labels, training=False)
    l_kl, l_fs, logits = terms["l_kl"], terms["l_fs"], terms["logits"]

    # Other teacher views change the teacher's terms but not the student's output.
    other = {**batch(resolutions=RESOLUTIONS, seed=1)[0], "student": views["student"]}
    other_terms = trainer.distillation_terms(other, labels, training=False)
    other_kl, other_logits = other_terms["l_kl"], other_terms["logits"]
    np.testing.assert_array_equal(logits, other_logits)
    assert abs(float(other_kl) - float(l_kl)) > 1e-4

    teacher_logits, fused = trainer.teacher([views[n] for n in TEACHER_VIEWS], training=False)
    projected = trainer.connector(trainer.student(views["student"])[1])
    assert fused.shape == projected.shape == FUSED_SHAPE
    np.testing.assert_allclose(l_fs, feature_similarity(fused, projected), rtol=1e-6)
    np.testing.assert_allclose(l_kl, kl_distillation(teacher_logits, logits, 2.0), rtol=1e-6)
    assert_one_step_trains_only_the_student(trainer, views, labels)


def test_student_on_every_resolution_averages_the_terms_over_its_views():
    trainer = make_trainer(student_size=None, student_views=TEACHER_VIEWS)
    views, labels = batch(resolutions=RESOLUTIONS)
    terms = trainer.distillation_terms(views, labels, training=False)
    l_kl, l_fs, ce, logits = (terms[k] for k in ("l_kl", "l_fs", "label", "logits"))

    teacher_logits, fused = trainer.teacher([views[n] for n in TEACHER_VIEWS], training=False)
    per_view = []
    for name in TEACHER_VIEWS:
        view_logits, features = trainer.student(views[name])
        projected = trainer.connector(features)
        assert projected.shape == FUSED_SHAPE, name  # every resolution lands on the grid
        per_view.append([float(kl_distillation(teacher_logits, view_logits, 2.0)),
                         float(feature_similarity(fused, projected)),
                         float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                             labels, view_logits, from_logits=True)))])
    np.testing.assert_allclose([l_kl, l_fs, ce], np.mean(per_view, axis=0), rtol=1e-5)
    # The views really differ for the student, so the mean is not one view's value.
    assert np.ptp(np.array(per_view)[:, 0]) > 1e-4
    np.testing.assert_array_equal(logits, trainer.student(views["teacher_0"])[0])
    assert_one_step_trains_only_the_student(trainer, views, labels)


def test_other_student_views_need_a_student_for_any_input_size():
    with pytest.raises(ValueError, match=r"only takes 16x16 inputs: build it with input "
                                         r"shape \(None, None, channels\)"):
        make_trainer(student_size=16, student_views=TEACHER_VIEWS)
    with pytest.raises(ValueError, match="student_views is empty"):
        make_trainer(student_views=[])
