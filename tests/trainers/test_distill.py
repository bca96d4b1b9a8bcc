import numpy as np
import pytest
import tensorflow as tf

from candle_tf.models.students import core_network

from tests.trainers.helpers import NUM_CLASSES, batch, snapshot, tiny_student_parts, tiny_teacher
from trainers.distill import DistillationTrainer


def make_trainer(teacher, student_lr=1e-2):
    student, connector, balancer = tiny_student_parts(teacher)
    trainer = DistillationTrainer(student, connector, teacher, balancer, ["teacher_0"],
                                  temperature=2.0, total_steps=100)
    trainer.compile(optimizer=tf.keras.optimizers.Adam(student_lr),
                    balancer_optimizer=tf.keras.optimizers.Adam(0.05))
    return trainer


def current_lambda(trainer, views, labels):
    l_kl, l_fs, _, _ = trainer.distillation_terms(views, labels, training=False)
    return float(trainer.balance(l_kl, l_fs)), float(l_kl), float(l_fs)


def test_balancer_ascends_towards_the_larger_term_and_the_teacher_never_moves():
    teacher = tiny_teacher()
    # A near one-hot teacher: KL is about log(50) = 3.9, above FS (at most 4, about 2 here).
    teacher.get_layer("classifier").bias.assign(tf.one_hot(0, NUM_CLASSES) * 50.0)
    trainer = make_trainer(teacher)
    views, labels = batch()
    lam_before, l_kl, l_fs = current_lambda(trainer, views, labels)
    assert l_kl > l_fs
    teacher_before = snapshot(teacher.variables)
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    lam_after, _, _ = current_lambda(trainer, views, labels)
    assert lam_after > lam_before
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, snapshot(teacher.variables)))
    assert 0.0 < logs["lambda"] < 1.0


def test_balancer_moves_lambda_down_when_the_feature_term_is_larger():
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.zeros([NUM_CLASSES]))  # uniform teacher
    trainer = make_trainer(teacher)
    head = core_network(trainer.student).get_layer("logits")
    for weight in head.weights:  # uniform student too: KL = 0 < FS
        weight.assign(tf.zeros_like(weight))
    views, labels = batch()
    lam_before, l_kl, l_fs = current_lambda(trainer, views, labels)
    assert l_kl < l_fs
    trainer.train_on_batch(views, labels)
    assert current_lambda(trainer, views, labels)[0] < lam_before


def test_student_loss_on_the_batch_goes_down():
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.fill([NUM_CLASSES], 5.0))
    trainer = make_trainer(teacher)
    views, labels = batch()

    def objective():
        l_kl, l_fs, _, _ = trainer.distillation_terms(views, labels, training=True)
        return float(l_kl + l_fs)

    before = objective()
    for _ in range(20):
        trainer.train_on_batch(views, labels)
    assert objective() < 0.9 * before


def test_fixed_lambda_switches_the_balancer_off():
    teacher = tiny_teacher()
    student, connector, balancer = tiny_student_parts(teacher)
    trainer = DistillationTrainer(student, connector, teacher, balancer, ["teacher_0"],
                                  fixed_lambda=0.5)
    trainer.compile(optimizer=tf.keras.optimizers.Adam(1e-2),
                    balancer_optimizer=tf.keras.optimizers.Adam(0.05))
    before = snapshot(balancer.variables)
    logs = trainer.train_on_batch(*batch(), return_dict=True)
    assert logs["lambda"] == 0.5
    assert all(np.array_equal(a, b) for a, b in zip(before, snapshot(balancer.variables)))


def test_lambda_clamp_keeps_lambda_inside_its_bounds():
    teacher = tiny_teacher()
    student, connector, balancer = tiny_student_parts(teacher)
    balancer.get_layer("loss_weights").bias.assign([20.0, -20.0])  # unclamped lambda ~ 1
    trainer = DistillationTrainer(student, connector, teacher, balancer, ["teacher_0"],
                                  lambda_clamp=0.2)
    trainer.compile(optimizer=tf.keras.optimizers.Adam(1e-2),
                    balancer_optimizer=tf.keras.optimizers.Adam(0.05))
    views, labels = batch()
    l_kl, l_fs, _, _ = trainer.distillation_terms(views, labels, training=False)
    state = tf.stack([l_kl, l_fs, 0.0])[None, :]
    assert float(balancer(state)[0, 0]) > 0.99
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert np.isclose(logs["lambda"], 0.8)


def test_lambda_clamp_outside_its_range_is_refused():
    teacher = tiny_teacher()
    student, connector, balancer = tiny_student_parts(teacher)
    with pytest.raises(ValueError, match=r"--lambda_clamp=0.5 must be in \[0, 0.5\)"):
        DistillationTrainer(student, connector, teacher, balancer, ["teacher_0"],
                            lambda_clamp=0.5)
