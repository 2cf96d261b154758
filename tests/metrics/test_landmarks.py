"""Landmark mean error and failure rate metrics against the numpy functions."""

import doctest

import keras
import numpy as np
import pytest

from tfau import metrics
from tfau.metrics import landmarks


@pytest.fixture
def faces():
    rng = np.random.default_rng(2)
    truth = rng.uniform(20, 150, size=(12, 49, 2)).astype("float32")
    prediction = truth + rng.normal(0, 5, size=truth.shape).astype("float32")
    return truth, prediction


def test_mean_error_and_failure_rate_accumulate(faces):
    truth, prediction = faces
    mean_error, failures = metrics.LandmarkMeanError(), metrics.LandmarkFailureRate()
    for start in (0, 5):
        stop = start + 5 if start == 0 else 12
        mean_error.update_state(truth[start:stop], prediction[start:stop])
        failures.update_state(truth[start:stop], prediction[start:stop])
    errors = metrics.landmark_errors(truth, prediction)
    assert 0 < np.mean(errors > 0.1) < 1  # the fixture has both successes and failures
    assert float(mean_error.result()) == pytest.approx(100 * errors.mean(), rel=1e-5)
    assert float(failures.result()) == pytest.approx(100 * np.mean(errors > 0.1), rel=1e-5)


def test_sample_weight_leaves_faces_out(faces):
    truth, prediction = faces
    weight = np.r_[np.ones(6), np.zeros(6)].astype("float32")
    metric = metrics.LandmarkMeanError()
    metric.update_state(truth, prediction, sample_weight=weight)
    expected = metrics.landmark_mean_error(truth[:6], prediction[:6])
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def test_failure_threshold_and_config():
    metric = metrics.LandmarkFailureRate(threshold=0.05)
    restored = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert restored.threshold == 0.05
    with pytest.raises(ValueError, match=r"`threshold` must be positive. Received: threshold=0"):
        metrics.LandmarkFailureRate(threshold=0)


def test_docstring_examples():
    result = doctest.testmod(landmarks)
    assert result.attempted > 0 and result.failed == 0
