"""Per-AU weights from occurrence rates (JAA-Net w_i, PAttNet w_pos)."""

import doctest

import numpy as np
import pytest

from tfau import losses
from tfau.losses import weights as weights_module

LABELS = np.array(
    [
        [1, 0, 0],
        [1, 1, -1],
        [0, 0, 1],
        [-1, 0, 0],
        [0, 0, 0],
    ]
)


def test_counts_and_rates_ignore_unknown_labels():
    positives, negatives = losses.au_counts(LABELS)
    np.testing.assert_array_equal(positives, [2, 1, 1])
    np.testing.assert_array_equal(negatives, [2, 4, 3])
    np.testing.assert_allclose(losses.occurrence_rates(LABELS), [2 / 4, 1 / 5, 1 / 4])


def test_jaanet_weights_formula():
    rates = np.array([0.5, 0.2, 0.25])
    inverse = 1 / rates
    expected = inverse * 3 / inverse.sum()
    weights = losses.jaanet_au_weights(rates)
    np.testing.assert_allclose(weights, expected)
    assert weights.sum() == pytest.approx(3.0)
    assert np.argmax(weights) == 1  # the rarest AU weighs most


def test_positive_weights_are_negatives_over_positives():
    np.testing.assert_allclose(losses.positive_weights(LABELS), [1.0, 4.0, 3.0])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"Received: rates=\[0.5, 0.0\]"):
        losses.jaanet_au_weights([0.5, 0.0])
    with pytest.raises(ValueError, match=r"no positive frame for AU columns \[1\]"):
        losses.positive_weights([[1, 0], [0, 0]])
    with pytest.raises(ValueError, match=r"no known label for AU columns \[0\]"):
        losses.occurrence_rates([[-1, 1], [-1, 0]])
    with pytest.raises(ValueError, match=r"Received: labels with shape \(3,\)"):
        losses.au_counts([1, 0, 1])


def test_docstring_examples():
    result = doctest.testmod(weights_module)
    assert result.attempted > 0 and result.failed == 0
