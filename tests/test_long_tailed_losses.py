import numpy as np
import pytest
import tensorflow as tf

from candle_tf.losses import (CrossEntropy, LDAMLoss, LogitAdjustedLoss,
                                          balanced_softmax, effective_number_weights,
                                          ldam_margins)

COUNTS = np.array([500, 120, 40, 9, 2])


def logits_and_labels(seed=0):
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.normal(size=(8, len(COUNTS))) * 3, tf.float32),
            tf.constant(rng.integers(0, len(COUNTS), 8)))


def cross_entropy(logits, labels):
    """Reference softmax cross-entropy in float64, per example."""
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def test_balanced_softmax_is_cross_entropy_on_logits_plus_log_counts():
    logits, labels = logits_and_labels()
    expected = cross_entropy(logits.numpy() + np.log(COUNTS), labels.numpy())
    loss = balanced_softmax(COUNTS)(labels, logits).numpy()
    assert loss.shape == (8,)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_logit_adjustment_interpolates_between_cross_entropy_and_balanced_softmax():
    logits, labels = logits_and_labels(1)
    np.testing.assert_allclose(LogitAdjustedLoss(COUNTS, tau=0.0)(labels, logits),
                               CrossEntropy()(labels, logits), rtol=1e-6)
    np.testing.assert_allclose(LogitAdjustedLoss(COUNTS, tau=1.0)(labels, logits),
                               balanced_softmax(COUNTS)(labels, logits), rtol=1e-5)
    prior = COUNTS / COUNTS.sum()
    np.testing.assert_allclose(LogitAdjustedLoss(COUNTS, tau=2.0)(labels, logits),
                               cross_entropy(logits.numpy() + 2 * np.log(prior), labels.numpy()),
                               rtol=1e-5)


def test_ldam_margins_follow_n_to_the_minus_quarter():
    margins = ldam_margins(COUNTS, max_margin=0.5)
    assert np.isclose(margins[-1], 0.5) and np.all(np.diff(margins) > 0)
    np.testing.assert_allclose(margins * COUNTS ** 0.25, 0.5 * 2 ** 0.25, rtol=1e-5)


def test_ldam_loss_subtracts_the_margin_from_the_true_logit_then_scales():
    logits, labels = logits_and_labels(2)
    shifted = logits.numpy().copy()
    margins = ldam_margins(COUNTS, 0.5)
    shifted[np.arange(8), labels.numpy()] -= margins[labels.numpy()]
    np.testing.assert_allclose(LDAMLoss(COUNTS, 0.5, scale=30.0)(labels, logits),
                               cross_entropy(30.0 * shifted, labels.numpy()), rtol=1e-4, atol=1e-4)


def test_ldam_asks_more_of_rare_classes():
    """Same logits and a correct prediction: the rarer the true class, the larger the loss."""
    logits = tf.eye(5) * 0.6
    losses = LDAMLoss(COUNTS, 0.5, scale=5.0)(tf.range(5), logits).numpy()
    assert np.all(np.diff(losses) > 0)


@pytest.mark.parametrize("beta", [0.9, 0.999, 0.9999])
def test_effective_number_weights(beta):
    weights = effective_number_weights(COUNTS, beta)
    raw = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    np.testing.assert_allclose(weights, raw / raw.sum() * len(COUNTS), rtol=1e-5)
    assert np.isclose(weights.sum(), len(COUNTS)) and np.all(np.diff(weights) > 0)
    np.testing.assert_allclose(effective_number_weights([30, 30, 30], beta), 1.0, rtol=1e-6)
