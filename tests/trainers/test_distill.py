"""DistillationTrainer: the authors' objective (balanced KL, balancer over the KL pair, head
pass, pooled features) and the earlier reading (KL against FS)."""

import numpy as np
import pytest
import tensorflow as tf

from candle_tf.losses import kl_distillation
from tests.trainers.helpers import (KL_FS, NUM_CLASSES, batch, distillation_trainer, snapshot,
                                    tiny_teacher)
from trainers.distill import Objective

AUTHORS = Objective()


def weights_now(trainer, views, labels):
    """The balancer's weights for this batch, and the pair it weighs."""
    terms = trainer.distillation_terms(views, labels, training=False)
    pair = ("l_kl", "l_fs") if trainer.objective.balance == "kl_fs" else ("l_kl", "l_kl_bal")
    weights = trainer.balance(*(terms[name] for name in pair))
    return weights.numpy(), [float(terms[name]) for name in pair]


def uniform_student(trainer):
    head = trainer.classifier
    for weight in head.weights:
        weight.assign(tf.zeros_like(weight))


def test_authors_balancer_moves_weight_to_the_larger_kl_term():
    """Ascent moves the balancer towards whichever of L_KL and L_KL^bal is larger: a teacher
    sure of the head class (0) is closer to the prior than to uniform (L_KL larger), one sure
    of the rarest class is further from it (L_KL^bal larger)."""
    for hot_class, larger in ((0, 0), (NUM_CLASSES - 1, 1)):
        teacher = tiny_teacher()
        teacher.get_layer("classifier").bias.assign(tf.one_hot(hot_class, NUM_CLASSES) * 8.0)
        trainer = distillation_trainer(teacher, AUTHORS)
        uniform_student(trainer)
        views, labels = batch()
        before, pair = weights_now(trainer, views, labels)
        assert pair[larger] > pair[1 - larger]
        teacher_before = snapshot(teacher.variables)
        logs = trainer.train_on_batch(views, labels, return_dict=True)
        after, _ = weights_now(trainer, views, labels)
        assert after[larger] > before[larger], hot_class
        assert np.isclose(logs["lambda"] + logs["w2"], 1.0)
        assert all(np.array_equal(a, b)
                   for a, b in zip(teacher_before, snapshot(teacher.variables)))


def test_head_pass_changes_only_the_classifier_by_its_own_gradient():
    """Student and balancer optimisers at lr 0: one step moves the classifier, by exactly
    -lr * d L_KL(classifier(sg(pooled features))) / d classifier, and nothing else."""
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.fill([NUM_CLASSES], 5.0))
    lr = 0.5
    trainer = distillation_trainer(
        teacher, AUTHORS, optimizer=tf.keras.optimizers.SGD(0.0),
        head_optimizer=tf.keras.optimizers.SGD(lr),
        balancer_optimizer=tf.keras.optimizers.SGD(0.0))
    views, labels = batch()
    classifier = trainer.classifier.trainable_variables
    with tf.GradientTape() as tape:
        teacher_logits = teacher(views["teacher_0"], training=False)[0]
        features = trainer.student(views["student"], training=True)[1]
        pooled = tf.stop_gradient(tf.reduce_mean(features, [1, 2]))
        head_kl = kl_distillation(teacher_logits, trainer.classifier(pooled), 2.0, "classes")
    expected = [v.numpy() - lr * g.numpy() for v, g in zip(classifier, tape.gradient(
        head_kl, classifier))]
    others = [v for v in trainer.student.trainable_variables + trainer.connector.trainable_variables
              + trainer.balancer.trainable_variables
              if v.ref() not in {c.ref() for c in classifier}]
    others_before = snapshot(others)
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    np.testing.assert_allclose(logs["head"], float(head_kl), rtol=1e-5)
    for variable, value in zip(classifier, expected):
        np.testing.assert_allclose(variable.numpy(), value, rtol=1e-5, atol=1e-7)
    assert all(np.array_equal(a, b) for a, b in zip(others_before, snapshot(others)))


@pytest.mark.parametrize("head_pass", [True, False])
def test_encoder_pass_moves_the_classifier_only_without_a_head_pass(head_pass):
    """Head optimiser at lr 0: with the head pass, the encoder's loss moves the encoder and
    not the classifier; without it, one loss trains the whole student."""
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.fill([NUM_CLASSES], 5.0))
    trainer = distillation_trainer(
        teacher, Objective(head_pass=head_pass), optimizer=tf.keras.optimizers.SGD(0.5),
        head_optimizer=tf.keras.optimizers.SGD(0.0) if head_pass else None)
    classifier = trainer.classifier.trainable_variables
    encoder = [v for v in trainer.student.trainable_variables
               if v.ref() not in {c.ref() for c in classifier}]
    classifier_before, encoder_before = snapshot(classifier), snapshot(encoder)
    trainer.train_on_batch(*batch())
    classifier_moved = any(not np.array_equal(a, b)
                           for a, b in zip(classifier_before, snapshot(classifier)))
    assert classifier_moved is not head_pass
    assert any(not np.array_equal(a, b) for a, b in zip(encoder_before, snapshot(encoder)))


def test_pooled_feature_target_compares_pooled_features():
    teacher = tiny_teacher()
    trainer = distillation_trainer(teacher, AUTHORS)
    views, labels = batch()
    terms = trainer.distillation_terms(views, labels, training=False)
    fused = teacher(views["teacher_0"], training=False)[1]
    pooled = tf.reduce_mean(trainer.student(views["student"])[1], [1, 2])
    projected = tf.reshape(trainer.connector(pooled[:, None, None, :]), [16, -1])
    target = tf.math.l2_normalize(tf.reduce_mean(fused, [1, 2]), -1)
    cosine = tf.reduce_sum(tf.math.l2_normalize(projected, -1) * target, -1)
    np.testing.assert_allclose(terms["l_fs"], tf.reduce_mean(2 - 2 * cosine), rtol=1e-5)


def test_label_term_balanced_softmax_uses_the_log_prior():
    teacher = tiny_teacher()
    trainer = distillation_trainer(teacher, Objective(label_loss="balanced_softmax",
                                                      ce_weight=1.0))
    views, labels = batch()
    terms = trainer.distillation_terms(views, labels, training=False)
    logits = trainer.student(views["student"])[0] + trainer.prior_log
    expected = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    np.testing.assert_allclose(terms["label"], expected, rtol=1e-5)


def test_kl_fs_balancer_ascends_towards_the_larger_term_and_the_teacher_never_moves():
    teacher = tiny_teacher()
    # A near one-hot teacher: KL is about log(50) = 3.9, above FS (at most 4, about 2 here).
    teacher.get_layer("classifier").bias.assign(tf.one_hot(0, NUM_CLASSES) * 50.0)
    trainer = distillation_trainer(teacher, KL_FS)
    views, labels = batch()
    before, (l_kl, l_fs) = weights_now(trainer, views, labels)
    assert l_kl > l_fs
    teacher_before = snapshot(teacher.variables)
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert weights_now(trainer, views, labels)[0][0] > before[0]
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, snapshot(teacher.variables)))
    assert 0.0 < logs["lambda"] < 1.0


def test_kl_fs_balancer_moves_lambda_down_when_the_feature_term_is_larger():
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.zeros([NUM_CLASSES]))  # uniform teacher
    trainer = distillation_trainer(teacher, KL_FS)
    uniform_student(trainer)  # uniform student too: KL = 0 < FS
    views, labels = batch()
    before, (l_kl, l_fs) = weights_now(trainer, views, labels)
    assert l_kl < l_fs
    trainer.train_on_batch(views, labels)
    assert weights_now(trainer, views, labels)[0][0] < before[0]


@pytest.mark.parametrize("objective", [KL_FS, AUTHORS], ids=["kl_fs", "authors"])
def test_student_loss_on_the_batch_goes_down(objective):
    teacher = tiny_teacher()
    teacher.get_layer("lws").scales.assign(tf.fill([NUM_CLASSES], 5.0))
    trainer = distillation_trainer(teacher, objective)
    views, labels = batch()

    def loss():
        terms = trainer.distillation_terms(views, labels, training=True)
        return float(terms["l_kl"] + terms["l_kl_bal"] + terms["l_fs"])

    before = loss()
    for _ in range(20):
        trainer.train_on_batch(views, labels)
    assert loss() < 0.9 * before


def test_fixed_lambda_switches_the_balancer_off():
    teacher = tiny_teacher()
    trainer = distillation_trainer(teacher, Objective(fixed_lambda=0.5))
    before = snapshot(trainer.balancer.variables)
    logs = trainer.train_on_batch(*batch(), return_dict=True)
    assert logs["lambda"] == logs["w2"] == 0.5
    assert all(np.array_equal(a, b) for a, b in zip(before, snapshot(trainer.balancer.variables)))


def test_without_a_balanced_kl_the_kl_has_weight_one_and_the_balancer_rests():
    teacher = tiny_teacher()
    trainer = distillation_trainer(teacher, Objective(balanced_kl="none"))
    assert trainer.ascent_variables == []
    before = snapshot(trainer.balancer.variables)
    views, labels = batch()
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert (logs["lambda"], logs["w2"]) == (1.0, 0.0)
    assert all(np.array_equal(a, b) for a, b in zip(before, snapshot(trainer.balancer.variables)))
    np.testing.assert_allclose(logs["loss"], 0.5 * logs["l_fs"] + 0.5 * logs["l_kl"], rtol=1e-5)


def test_lambda_clamp_keeps_lambda_inside_its_bounds():
    teacher = tiny_teacher()
    trainer = distillation_trainer(teacher, Objective(lambda_clamp=0.2))
    trainer.balancer.get_layer("loss_weights").bias.assign([20.0, -20.0])  # unclamped ~ 1
    views, labels = batch()
    assert float(trainer.balancer(tf.constant([[0.1, 0.1, 0.0]]))[0, 0]) > 0.99
    logs = trainer.train_on_batch(views, labels, return_dict=True)
    assert np.isclose(logs["lambda"], 0.8) and np.isclose(logs["w2"], 0.2)


@pytest.mark.parametrize("settings, message", [
    ({"lambda_clamp": 0.5}, r"--lambda_clamp=0.5: must be >= 0 and < 0.5"),
    ({"balance": "kl"}, r"--balance=kl: use one of kl_pair, kl_fs"),
    ({"fs_weight": 1.5}, r"--fs_weight=1.5: must be >= 0 and <= 1"),
    ({"feature_target": "grid"}, r"--feature_target=grid: use one of pooled, map"),
])
def test_bad_objective_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        Objective(**settings)
