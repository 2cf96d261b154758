"""Per-AU loss weights from training-set occurrence (JAA-Net's w_i, PAttNet's w_pos).

The data pipelines compute these once from the training labels and pass them to the losses.
Labels follow tfau's convention: 1 = present, 0 = absent, -1 = unknown (not counted).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _labels_2d(labels: Any) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(
            "`labels` must have shape (num_frames, num_aus). "
            f"Received: labels with shape {labels.shape}"
        )
    return labels


def au_counts(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Counts the positive and negative frames of each AU, ignoring unknown (-1) labels.

    Args:
        labels: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.

    Returns:
        ``(positives, negatives)``, two int64 arrays of shape ``(num_aus,)``.

    Example:
        >>> au_counts([[1, 0], [0, -1], [1, 1]])
        (array([2, 1]), array([1, 1]))
    """
    labels = _labels_2d(labels)
    positives = np.sum(labels == 1, axis=0).astype(np.int64)
    negatives = np.sum(labels == 0, axis=0).astype(np.int64)
    return positives, negatives


def occurrence_rates(labels: Any) -> np.ndarray:
    """Occurrence rate ``r_i`` of each AU: positives / known frames.

    Args:
        labels: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.

    Returns:
        float64 array ``(num_aus,)``.

    Raises:
        ValueError: if an AU has no known label.

    Example:
        >>> occurrence_rates([[1, 0], [0, -1], [1, 1], [0, 0]])
        array([0.5       , 0.33333333])
    """
    positives, negatives = au_counts(labels)
    known = positives + negatives
    if np.any(known == 0):
        missing = np.flatnonzero(known == 0).tolist()
        raise ValueError(
            f"Every AU needs at least one known label to compute its occurrence rate. "
            f"Received: no known label for AU columns {missing}"
        )
    return positives / known


def jaanet_au_weights(rates: Any) -> np.ndarray:
    """JAA-Net's per-AU loss weights ``w_i = (1 / r_i) n_au / sum_j (1 / r_j)``.

    Rare AUs get larger weights; the weights average to 1.

    Args:
        rates: occurrence rate of each AU in the training set, ``(num_aus,)``, each in (0, 1]
            (``occurrence_rates``).

    Returns:
        float64 array ``(num_aus,)`` summing to ``num_aus``.

    Raises:
        ValueError: if a rate is not in (0, 1].

    Example:
        >>> jaanet_au_weights([0.5, 0.25])
        array([0.66666667, 1.33333333])

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3.4.
    """
    rates = np.asarray(rates, dtype=np.float64).reshape(-1)
    if rates.size == 0 or not np.all((rates > 0) & (rates <= 1)):
        raise ValueError(
            "`rates` must be occurrence rates in (0, 1], one per AU (an AU that never occurs "
            f"in the training set cannot be weighted). Received: rates={rates.tolist()}"
        )
    inverse = 1.0 / rates
    return inverse * rates.size / inverse.sum()


def positive_weights(labels: Any) -> np.ndarray:
    """PAttNet's ``w_pos`` per AU: training frames without the AU / frames with it.

    Args:
        labels: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.

    Returns:
        float64 array ``(num_aus,)``.

    Raises:
        ValueError: if an AU has no positive frame.

    Example:
        >>> positive_weights([[1, 0], [0, 1], [0, 1], [0, -1]])
        array([3. , 0.5])

    Reference:
        Onal Ertugrul, Jeni, Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, section 4.
    """
    positives, negatives = au_counts(labels)
    if np.any(positives == 0):
        missing = np.flatnonzero(positives == 0).tolist()
        raise ValueError(
            "Every AU needs at least one positive frame to weight its positives. "
            f"Received: no positive frame for AU columns {missing}"
        )
    return negatives / positives
