"""Numpy AU and landmark metrics against scikit-learn and hand computations."""

import doctest

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from tfau import metrics
from tfau.metrics import functional


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y_true = rng.choice([-1, 0, 1], p=[0.1, 0.6, 0.3], size=(300, 4))
    y_pred = np.clip(0.3 * y_true + rng.uniform(0, 0.8, size=y_true.shape), 0, 1)
    y_pred = np.round(y_pred, 2)  # ties, as real scores have
    mask = rng.choice([0, 1], p=[0.2, 0.8], size=y_true.shape)
    return y_true, y_pred, mask


def sklearn_per_au(score, y_true, y_pred, mask, binarise=True):
    values = []
    for au in range(y_true.shape[1]):
        keep = (y_true[:, au] >= 0) & (mask[:, au] > 0)
        prediction = y_pred[keep, au] >= 0.5 if binarise else y_pred[keep, au]
        values.append(score(y_true[keep, au], prediction))
    return np.array(values)


def test_f1_frame_equals_sklearn_with_unknown_labels_and_mask(predictions):
    y_true, y_pred, mask = predictions
    expected = sklearn_per_au(f1_score, y_true, y_pred, mask)
    np.testing.assert_allclose(metrics.f1_frame(y_true, y_pred, mask=mask), expected)
    no_mask = sklearn_per_au(f1_score, y_true, y_pred, np.ones_like(mask))
    np.testing.assert_allclose(metrics.f1_frame(y_true, y_pred), no_mask)
    assert not np.allclose(expected, no_mask)


def test_f1_frame_of_an_au_without_positives_is_zero():
    y_true = np.array([[0, 1], [0, 0]])
    y_pred = np.array([[0.1, 0.9], [0.2, 0.1]])
    np.testing.assert_array_equal(metrics.f1_frame(y_true, y_pred), [0.0, 1.0])


def test_accuracy_equals_sklearn(predictions):
    y_true, y_pred, mask = predictions
    expected = sklearn_per_au(accuracy_score, y_true, y_pred, mask)
    np.testing.assert_allclose(metrics.accuracy(y_true, y_pred, mask=mask), expected)


def test_roc_auc_equals_sklearn_with_ties(predictions):
    y_true, y_pred, mask = predictions
    expected = sklearn_per_au(roc_auc_score, y_true, y_pred, mask, binarise=False)
    np.testing.assert_allclose(metrics.roc_auc(y_true, y_pred, mask=mask), expected)


def test_roc_auc_is_nan_for_a_single_class():
    result = metrics.roc_auc(np.array([[1, 0], [1, 1]]), np.array([[0.2, 0.1], [0.4, 0.9]]))
    assert np.isnan(result[0]) and result[1] == 1.0


def test_confusion_counts_threshold_is_inclusive():
    counts = metrics.confusion_counts([[1], [0]], [[0.5], [0.5]])
    assert (counts["tp"][0], counts["fp"][0]) == (1, 1)


def test_landmark_errors_match_hand_computation():
    rng = np.random.default_rng(1)
    truth = rng.uniform(20, 150, size=(5, 49, 2))
    prediction = truth + rng.normal(0, 4, size=truth.shape)
    distance = np.linalg.norm(truth[:, 19:25].mean(1) - truth[:, 25:31].mean(1), axis=-1)
    errors = np.linalg.norm(truth - prediction, axis=-1).mean(-1) / distance
    np.testing.assert_allclose(metrics.landmark_errors(truth, prediction), errors)
    assert metrics.landmark_mean_error(truth, prediction) == pytest.approx(100 * errors.mean())
    assert metrics.landmark_failure_rate(truth, prediction) == pytest.approx(
        100 * np.mean(errors > 0.1)
    )


def test_shape_errors():
    with pytest.raises(ValueError, match=r"Received: y_true.shape=\(2, 3\), y_pred.shape=\(2, 2\)"):
        metrics.f1_frame(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(num_faces, num_points, 2\)"):
        metrics.landmark_errors(np.zeros((2, 49)), np.zeros((2, 49)))


def test_docstring_examples():
    result = doctest.testmod(functional)
    assert result.attempted > 0 and result.failed == 0
