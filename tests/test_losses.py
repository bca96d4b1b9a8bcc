import math

import numpy as np
import tensorflow as tf

from candle_tf.losses import (LabelAwareSmoothing, feature_similarity, kl_distillation,
                              label_aware_epsilons)


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
