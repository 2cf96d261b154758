"""DRML, EAC-Net and PAttNet cross-entropies against plain numpy, with masks and round trips."""

import doctest

import keras
import numpy as np
import pytest

import tfau
from tfau import losses
from tfau.losses import multilabel

EPS = 1e-7


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 0, 1], size=(6, 5)).astype("float32")
    y_pred = rng.uniform(0.0, 1.0, size=(6, 5)).astype("float32")
    y_pred[0, 0], y_pred[1, 1] = 0.0, 1.0  # exact 0 and 1 must stay finite
    mask = rng.choice([0.0, 1.0], size=(6, 5)).astype("float32")
    return y_true, y_pred, mask


def numpy_drml(y_true, y_pred, mask=None):
    # DRML's {-1, 0, +1} labels: +1 present, -1 absent, 0 ignored.
    drml_labels = np.select([y_true == 1, y_true == 0], [1, -1], 0)
    if mask is not None:
        drml_labels = drml_labels * (mask > 0)
    p = np.clip(y_pred, EPS, 1 - EPS)
    terms = (drml_labels > 0) * np.log(p) + (drml_labels < 0) * np.log(1 - p)
    return -terms.sum(axis=1)


def numpy_offset(y_true, y_pred, mask=None):
    known = (y_true >= 0) if mask is None else (y_true >= 0) * mask
    terms = y_true * np.log((y_pred + 0.05) / 1.05) + (1 - y_true) * np.log((1.05 - y_pred) / 1.05)
    return -(known * terms).sum(axis=1)


def numpy_weighted_bce(y_true, y_pred, pos_weight, mask=None):
    known = (y_true >= 0) if mask is None else (y_true >= 0) * mask
    p = np.clip(y_pred, EPS, 1 - EPS)
    terms = pos_weight * (y_true == 1) * -np.log(p) + (y_true == 0) * -np.log(1 - p)
    return (known * terms).mean(axis=1)


def test_drml_loss_matches_numpy_per_sample_and_divides_by_batch_size(batch):
    y_true, y_pred, _ = batch
    per_sample = multilabel.multilabel_sigmoid_cross_entropy(y_true, y_pred)
    np.testing.assert_allclose(per_sample, numpy_drml(y_true, y_pred), rtol=1e-5)
    loss = losses.MultiLabelSigmoidCrossEntropy()(y_true, y_pred)
    np.testing.assert_allclose(loss, numpy_drml(y_true, y_pred).sum() / 6, rtol=1e-5)


def test_drml_loss_explicit_mask(batch):
    y_true, y_pred, mask = batch
    masked = losses.multilabel_sigmoid_cross_entropy(y_true, y_pred, mask=mask)
    np.testing.assert_allclose(masked, numpy_drml(y_true, y_pred, mask), rtol=1e-5)
    assert np.all(np.isfinite(masked))


def test_unknown_labels_do_not_change_the_loss_or_its_gradient(batch):
    y_true, y_pred, _ = batch
    unknown = y_true < 0
    other = np.where(unknown, 1.0 - y_pred, y_pred)  # change only the unknown predictions
    for fn in (
        losses.multilabel_sigmoid_cross_entropy,
        losses.offset_cross_entropy,
        losses.weighted_binary_cross_entropy,
        losses.weighted_softmax_cross_entropy,
    ):
        np.testing.assert_allclose(fn(y_true, y_pred), fn(y_true, other), rtol=1e-6)
    import tensorflow as tf

    variable = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = losses.MultiLabelSigmoidCrossEntropy()(y_true, variable)
    gradient = tape.gradient(value, variable).numpy()
    assert np.all(gradient[unknown] == 0)
    assert np.all(gradient[~unknown & (y_pred > EPS) & (y_pred < 1 - EPS)] != 0)


def test_offset_cross_entropy_matches_eq3(batch):
    y_true, y_pred, mask = batch
    np.testing.assert_allclose(
        losses.offset_cross_entropy(y_true, y_pred), numpy_offset(y_true, y_pred), rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.offset_cross_entropy(y_true, y_pred, mask=mask),
        numpy_offset(y_true, y_pred, mask),
        rtol=1e-5,
    )
    loss = losses.OffsetCrossEntropy()(y_true, y_pred)
    np.testing.assert_allclose(loss, numpy_offset(y_true, y_pred).mean(), rtol=1e-5)
    # The offset bounds a confident mistake by log(21).
    worst = losses.offset_cross_entropy(np.ones((1, 1)), np.zeros((1, 1)))
    np.testing.assert_allclose(worst, [np.log(21.0)], rtol=1e-6)


def test_weighted_bce_matches_eq4(batch):
    y_true, y_pred, mask = batch
    pos_weight = np.array([1.0, 2.0, 0.5, 4.0, 3.0], "float32")
    np.testing.assert_allclose(
        losses.weighted_binary_cross_entropy(y_true, y_pred, pos_weight, mask=mask),
        numpy_weighted_bce(y_true, y_pred, pos_weight, mask),
        rtol=1e-5,
    )
    loss = losses.WeightedBinaryCrossEntropy(pos_weight=pos_weight)(y_true, y_pred)
    np.testing.assert_allclose(
        loss, numpy_weighted_bce(y_true, y_pred, pos_weight).mean(), rtol=1e-5
    )
    plain = losses.WeightedBinaryCrossEntropy()(y_true, y_pred)
    np.testing.assert_allclose(plain, numpy_weighted_bce(y_true, y_pred, 1.0).mean(), rtol=1e-5)


def test_weighted_bce_checks_weights():
    with pytest.raises(ValueError, match=r"`pos_weight` must be a non-empty sequence"):
        losses.WeightedBinaryCrossEntropy(pos_weight=[1.0, -2.0])
    loss = losses.WeightedBinaryCrossEntropy(pos_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Received: 3 weights for predictions with 2 AUs"):
        loss(np.ones((1, 2)), np.full((1, 2), 0.5))


def test_offset_must_be_positive():
    with pytest.raises(ValueError, match=r"`offset` must be a positive number. Received: offset=0"):
        losses.OffsetCrossEntropy(offset=0)


@pytest.mark.parametrize(
    "loss",
    [
        losses.MultiLabelSigmoidCrossEntropy(),
        losses.OffsetCrossEntropy(offset=0.1),
        losses.WeightedBinaryCrossEntropy(pos_weight=[1.0, 2.0, 0.5, 4.0, 3.0]),
    ],
    ids=lambda loss: type(loss).__name__,
)
def test_serialization_round_trip(loss, batch):
    y_true, y_pred, _ = batch
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    np.testing.assert_allclose(restored(y_true, y_pred), loss(y_true, y_pred), rtol=1e-6)


def test_docstring_examples():
    assert tfau.losses is losses
    result = doctest.testmod(multilabel)
    assert result.attempted > 0 and result.failed == 0
