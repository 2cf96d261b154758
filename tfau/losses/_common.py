"""Helpers shared by the tfau losses: label masks and probability clipping."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


def known_mask(y_true: Any, mask: Any | None = None) -> Any:
    """Returns a float mask that is 1 where the label is known (``y_true >= 0``), else 0.

    Args:
        y_true: labels with 1 = present, 0 = absent, -1 = unknown.
        mask: optional extra mask broadcastable to ``y_true``; entries where it is 0 are
            ignored as well.
    """
    y_true = ops.convert_to_tensor(y_true)
    known = ops.cast(ops.greater_equal(y_true, 0), "float32")
    if mask is not None:
        known = known * ops.cast(ops.convert_to_tensor(mask), "float32")
    return known


def known_labels(y_true: Any, known: Any) -> Any:
    """Returns ``y_true`` as float32 with the unknown entries replaced by 0."""
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    return ops.where(known > 0, y_true, ops.zeros_like(y_true))


def clipped_probabilities(y_pred: Any) -> Any:
    """Clips probabilities to ``[epsilon, 1 - epsilon]`` so that their logarithms are finite.

    tfau networks output probabilities, not logits (CONTRIBUTING.md). Clipping with
    ``keras.config.epsilon()`` (1e-7) is what ``keras.losses.binary_crossentropy`` does on
    probabilities: the loss stays finite, at the price of a zero gradient for predictions
    that are already within 1e-7 of 0 or 1.
    """
    epsilon = keras.config.epsilon()
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    return ops.clip(y_pred, epsilon, 1.0 - epsilon)


def check_weights(weights: Any, argument: str) -> tuple[float, ...] | None:
    """Validates per-AU weights given to a loss constructor and returns them as a tuple."""
    if weights is None:
        return None
    values = tuple(float(value) for value in np.asarray(weights, dtype="float64").reshape(-1))
    if not values or not all(np.isfinite(value) and value >= 0 for value in values):
        raise ValueError(
            f"`{argument}` must be a non-empty sequence of non-negative per-AU weights. "
            f"Received: {argument}={weights!r}"
        )
    return values


def weights_vector(weights: tuple[float, ...], y_pred: Any, argument: str) -> Any:
    """Returns per-AU weights as a float32 tensor, checking their count against ``y_pred``."""
    num_aus = y_pred.shape[-1]
    if len(weights) != 1 and num_aus is not None and len(weights) != num_aus:
        raise ValueError(
            f"`{argument}` must have one weight per AU (or a single weight). "
            f"Received: {len(weights)} weights for predictions with {num_aus} AUs"
        )
    return ops.convert_to_tensor(np.asarray(weights, dtype="float32"))
