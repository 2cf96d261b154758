"""JAA-Net losses (eqs. 2, 4, 6-8) against plain numpy."""

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfau import losses
from tfau.losses import jaanet

EPS = 1e-7


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    y_true = rng.choice([-1, 0, 1], size=(7, 4)).astype("float32")
    y_pred = rng.uniform(0.0, 1.0, size=(7, 4)).astype("float32")
    mask = rng.choice([0.0, 1.0], size=(7, 4)).astype("float32")
    weights = np.array([0.5, 1.5, 1.2, 0.8], "float32")
    return y_true, y_pred, mask, weights


def numpy_softmax(y_true, y_pred, weights, mask=None):
    known = (y_true >= 0) if mask is None else (y_true >= 0) * mask
    p = np.clip(y_pred, EPS, 1 - EPS)
    terms = np.where(y_true == 1, np.log(p), np.log(1 - p))
    return -(weights * known * terms).sum(axis=1) / y_true.shape[1]


def numpy_dice(y_true, y_pred, weights, mask=None, smooth=1.0):
    known = (y_true >= 0) if mask is None else (y_true >= 0) * mask
    values = []
    for au in range(y_true.shape[1]):
        rows = known[:, au] > 0
        p, q = (y_true[rows, au] == 1).astype("float64"), y_pred[rows, au].astype("float64")
        dice = 1 - (2 * np.sum(p * q) + smooth) / (np.sum(p**2) + np.sum(q**2) + smooth)
        values.append(weights[au] * dice)
    return np.mean(values)


def test_weighted_softmax_matches_eq6(batch):
    y_true, y_pred, mask, weights = batch
    np.testing.assert_allclose(
        losses.weighted_softmax_cross_entropy(y_true, y_pred, weights, mask=mask),
        numpy_softmax(y_true, y_pred, weights, mask),
        rtol=1e-5,
    )
    loss = losses.WeightedSoftmaxCrossEntropy(au_weights=weights)(y_true, y_pred)
    np.testing.assert_allclose(loss, numpy_softmax(y_true, y_pred, weights).mean(), rtol=1e-5)


def test_weighted_dice_matches_eq7_over_batch(batch):
    y_true, y_pred, mask, weights = batch
    np.testing.assert_allclose(
        losses.weighted_dice(y_true, y_pred, weights, mask=mask),
        numpy_dice(y_true, y_pred, weights, mask),
        rtol=1e-5,
    )
    loss = losses.WeightedDice(au_weights=weights)(y_true, y_pred)
    np.testing.assert_allclose(loss, numpy_dice(y_true, y_pred, weights), rtol=1e-5)


def test_weighted_dice_per_frame(batch):
    y_true, y_pred, _, weights = batch
    known = y_true >= 0
    p, q = (y_true == 1).astype("float64"), y_pred * known
    expected = (weights * (1 - (2 * p * q + 1) / (p**2 + q**2 + 1))).mean(axis=1)
    np.testing.assert_allclose(
        losses.weighted_dice(y_true, y_pred, weights, over_batch=False), expected, rtol=1e-5
    )


def test_dice_is_zero_for_perfect_predictions_and_grows_with_errors():
    y_true = np.array([[1, 0], [0, 1], [1, 1]], "float32")
    assert float(losses.weighted_dice(y_true, y_true)) == pytest.approx(0.0, abs=1e-7)
    # Each AU: 2 positives, 1 wrong prediction, no overlap: 1 - (0 + 1) / (2 + 1 + 1).
    assert float(losses.weighted_dice(y_true, 1 - y_true)) == pytest.approx(0.75, rel=1e-6)


def test_jaanet_au_loss_is_softmax_plus_dice(batch):
    y_true, y_pred, _, weights = batch
    loss = losses.JAANetAULoss(au_weights=weights)(y_true, y_pred)
    expected = numpy_softmax(y_true, y_pred, weights).mean() + numpy_dice(y_true, y_pred, weights)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_alignment_loss_matches_eq2():
    rng = np.random.default_rng(2)
    truth = rng.uniform(20, 150, size=(3, 49, 2)).astype("float32")
    prediction = truth + rng.normal(0, 3, size=truth.shape).astype("float32")
    left, right = truth[:, 19:25].mean(axis=1), truth[:, 25:31].mean(axis=1)
    distance = np.linalg.norm(left - right, axis=-1)
    expected = ((truth - prediction) ** 2).sum(axis=(1, 2)) / (2 * distance**2)
    np.testing.assert_allclose(losses.alignment_loss(truth, prediction), expected, rtol=1e-5)
    np.testing.assert_allclose(
        losses.alignment_loss(truth, prediction, mask=np.array([1.0, 0.0, 1.0])),
        expected * [1, 0, 1],
        rtol=1e-5,
    )
    np.testing.assert_allclose(losses.AlignmentLoss()(truth, prediction), expected.mean(), 1e-5)
    graph_loss = tf.function(losses.alignment_loss)(tf.constant(truth), tf.constant(prediction))
    np.testing.assert_allclose(graph_loss, expected, rtol=1e-5)


def test_alignment_loss_is_scale_invariant():
    rng = np.random.default_rng(3)
    truth = rng.uniform(20, 150, size=(2, 49, 2)).astype("float32")
    prediction = truth + rng.normal(0, 3, size=truth.shape).astype("float32")
    np.testing.assert_allclose(
        losses.alignment_loss(truth * 2, prediction * 2),
        losses.alignment_loss(truth, prediction),
        rtol=1e-5,
    )


def test_attention_refinement_loss_matches_eq4():
    rng = np.random.default_rng(4)
    initial = rng.uniform(0, 1, size=(2, 5, 5, 3)).astype("float32")
    initial[0, 0, 0, 0] = 0.0
    refined = rng.uniform(0, 1, size=(2, 5, 5, 3)).astype("float32")
    refined[1, 1, 1, 1] = 1.0
    r = np.clip(refined, EPS, 1 - EPS)
    terms = initial * np.log(r) + (1 - initial) * np.log(1 - r)
    expected = -terms.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(
        losses.attention_refinement_loss(initial, refined), expected, rtol=1e-5
    )
    au_mask = np.array([1.0, 0.0, 1.0]).reshape(1, 1, 1, 3)
    np.testing.assert_allclose(
        losses.attention_refinement_loss(initial, refined, mask=au_mask),
        -(terms * au_mask).sum(axis=(1, 2, 3)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        losses.AttentionRefinementLoss()(initial, refined), expected.mean(), rtol=1e-5
    )


def test_weight_and_smooth_errors():
    with pytest.raises(ValueError, match=r"`au_weights` must be a non-empty sequence"):
        losses.JAANetAULoss(au_weights=[])
    with pytest.raises(ValueError, match=r"`smooth` must be non-negative. Received: smooth=-1"):
        losses.WeightedDice(smooth=-1)


@pytest.mark.parametrize(
    "loss",
    [
        losses.WeightedSoftmaxCrossEntropy(au_weights=[0.5, 1.5, 1.2, 0.8]),
        losses.WeightedDice(au_weights=[0.5, 1.5, 1.2, 0.8], smooth=2.0, over_batch=False),
        losses.JAANetAULoss(au_weights=[0.5, 1.5, 1.2, 0.8]),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_serialization_round_trip(loss, batch):
    y_true, y_pred, _, _ = batch
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    np.testing.assert_allclose(restored(y_true, y_pred), loss(y_true, y_pred), rtol=1e-6)


def test_docstring_examples():
    result = doctest.testmod(jaanet)
    assert result.attempted > 0 and result.failed == 0
