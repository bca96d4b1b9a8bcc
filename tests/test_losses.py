import math

import numpy as np
import tensorflow as tf

from candle_tf.losses import (LabelAwareSmoothing, balanced_kl_distillation,
                              feature_similarity, kl_distillation, label_aware_epsilons,
                              log_prior)


def test_epsilons_run_from_head_to_tail_concavely():
    eps = label_aware_epsilons([1000, 550, 100], eps_head=0.4, eps_tail=0.1)
    assert np.allclose(eps, [0.4, 0.1 + 0.3 * math.sin(math.pi / 4), 0.1])


def test_label_aware_smoothing_matches_its_formula():
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = tf.constant([0, 2])
    loss = LabelAwareSmoothing([100, 10, 1], eps_head=0.3, eps_tail=0.0)(labels, logits)
    log_p = tf.nn.log_softmax(logits).numpy()
    eps = label_aware_epsilons([100, 10, 1], 0.3, 0.0)
    expected = np.mean([(1 - eps[y]) * -log_p[i, y] + eps[y] * -log_p[i].mean()
                        for i, y in enumerate([0, 2])])
    assert np.isclose(float(loss), expected, atol=1e-6)


def test_kl_is_zero_for_equal_logits_and_positive_otherwise():
    z = tf.random.normal((4, 5))
    assert abs(float(kl_distillation(z, z, 2.0))) < 1e-6
    assert float(kl_distillation(z, -z, 2.0)) > 0.1


def test_feature_similarity_range():
    f = tf.random.normal((3, 2, 2, 8))
    assert abs(float(feature_similarity(f, 5.0 * f))) < 1e-5  # scale-invariant
    assert np.isclose(float(feature_similarity(f, -f)), 4.0, atol=1e-5)


def test_balanced_kl_on_a_three_class_example():
    """Counts 2 : 1 : 1 give pi = (1/2, 1/4, 1/4); tau = 1, student logits 0.

    A teacher equal to the prior: L_KL^bal = KL(pi || pi) = 0, while
    L_KL = KL(pi || uniform) = 1/2 ln(3/2) + 2 * 1/4 ln(3/4) = 0.0588915.
    A uniform teacher: L_KL^bal = KL(u || pi) = 1/3 (ln(2/3) + 2 ln(4/3)) = 0.0566330,
    and with both adjusted the teacher becomes pi too: 0.
    """
    prior = log_prior([2, 1, 1])
    np.testing.assert_allclose(prior, np.log([0.5, 0.25, 0.25]), rtol=1e-6)
    student = tf.zeros((1, 3))
    teacher = tf.constant([np.log([0.5, 0.25, 0.25])], tf.float32)
    assert abs(float(balanced_kl_distillation(teacher, student, prior, 1.0))) < 1e-6
    assert np.isclose(float(kl_distillation(teacher, student, 1.0)), 0.0588915, atol=1e-6)
    uniform = tf.zeros((1, 3))
    assert np.isclose(float(balanced_kl_distillation(uniform, student, prior, 1.0)),
                      0.0566330, atol=1e-6)
    assert abs(float(balanced_kl_distillation(uniform, student, prior, 1.0,
                                              adjust_teacher=True))) < 1e-6
    # The authors' reduction also averages over the 3 classes.
    assert np.isclose(float(balanced_kl_distillation(uniform, student, prior, 1.0,
                                                     reduction="classes")), 0.0566330 / 3,
                      atol=1e-6)
