"""Plain numpy AU and landmark metrics, for result tables and as references.

Labels follow tfau's convention: 1 = present, 0 = absent, -1 = unknown; unknown entries and
entries where ``mask`` is 0 are left out of every count. Per-AU results are arrays of shape
``(num_aus,)``; average them with ``np.mean`` for the papers' "Avg." column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfau.faces import inter_ocular_distance

#: Decision threshold of every paper's F1-frame: present when ``p >= 0.5``.
DEFAULT_THRESHOLD = 0.5
#: A face is an alignment failure when its normalised mean error exceeds 10% (JAA-Net).
DEFAULT_FAILURE_THRESHOLD = 0.1


def _au_arrays(y_true: Any, y_pred: Any, mask: Any | None) -> tuple[np.ndarray, ...]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ValueError(
            "`y_true` and `y_pred` must both have shape (num_frames, num_aus). "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    known = y_true >= 0
    if mask is not None:
        known &= np.broadcast_to(np.asarray(mask) > 0, y_true.shape)
    return y_true == 1, y_pred, known


def confusion_counts(
    y_true: Any, y_pred: Any, threshold: float = DEFAULT_THRESHOLD, mask: Any | None = None
) -> dict[str, np.ndarray]:
    """True/false positives/negatives of each AU at ``threshold`` (``p >= threshold``).

    Args:
        y_true: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.
        y_pred: ``(num_frames, num_aus)`` probabilities.
        threshold: decision threshold. Defaults to 0.5.
        mask: optional mask broadcastable to ``y_true``; 0 leaves an entry out.

    Returns:
        ``{"tp", "fp", "fn", "tn"}``, each an int64 array ``(num_aus,)``.

    Example:
        >>> confusion_counts([[1, 0], [1, -1]], [[0.9, 0.7], [0.2, 0.1]])["tp"]
        array([1, 0])
    """
    positive, y_pred, known = _au_arrays(y_true, y_pred, mask)
    predicted = y_pred >= threshold
    return {
        "tp": np.sum(known & positive & predicted, axis=0),
        "fp": np.sum(known & ~positive & predicted, axis=0),
        "fn": np.sum(known & positive & ~predicted, axis=0),
        "tn": np.sum(known & ~positive & ~predicted, axis=0),
    }


def f1_frame(
    y_true: Any, y_pred: Any, threshold: float = DEFAULT_THRESHOLD, mask: Any | None = None
) -> np.ndarray:
    """F1-frame of each AU: ``2 TP / (2 TP + FP + FN)``; 0 when the AU has none of them.

    Equals ``sklearn.metrics.f1_score`` on the known frames of each AU (with its default
    ``zero_division`` giving 0).

    Args:
        y_true: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.
        y_pred: ``(num_frames, num_aus)`` probabilities.
        threshold: decision threshold. Defaults to 0.5.
        mask: optional mask broadcastable to ``y_true``; 0 leaves an entry out.

    Returns:
        float64 array ``(num_aus,)`` in [0, 1].

    Example:
        >>> f1_frame([[1, 0], [1, 1], [0, 1]], [[0.9, 0.2], [0.3, 0.8], [0.6, 0.1]])
        array([0.5       , 0.66666667])
    """
    counts = confusion_counts(y_true, y_pred, threshold, mask)
    denominator = 2 * counts["tp"] + counts["fp"] + counts["fn"]
    return np.divide(
        2.0 * counts["tp"], denominator, out=np.zeros(denominator.shape), where=denominator > 0
    )


def accuracy(
    y_true: Any, y_pred: Any, threshold: float = DEFAULT_THRESHOLD, mask: Any | None = None
) -> np.ndarray:
    """Accuracy of each AU on its known frames; 0 for an AU without known frames.

    Args:
        y_true: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.
        y_pred: ``(num_frames, num_aus)`` probabilities.
        threshold: decision threshold. Defaults to 0.5.
        mask: optional mask broadcastable to ``y_true``; 0 leaves an entry out.

    Returns:
        float64 array ``(num_aus,)`` in [0, 1].

    Example:
        >>> accuracy([[1, 0], [1, -1]], [[0.9, 0.7], [0.2, 0.1]])
        array([0.5, 0. ])
    """
    counts = confusion_counts(y_true, y_pred, threshold, mask)
    total = counts["tp"] + counts["fp"] + counts["fn"] + counts["tn"]
    correct = counts["tp"] + counts["tn"]
    return np.divide(1.0 * correct, total, out=np.zeros(total.shape), where=total > 0)


def roc_auc(y_true: Any, y_pred: Any, mask: Any | None = None) -> np.ndarray:
    """Exact area under the ROC curve of each AU (Mann-Whitney, ties count one half).

    Equals ``sklearn.metrics.roc_auc_score`` on the known frames of each AU. An AU whose
    known frames are all positive or all negative has no ROC curve: its entry is NaN.

    Args:
        y_true: ``(num_frames, num_aus)`` labels: 1 present, 0 absent, -1 unknown.
        y_pred: ``(num_frames, num_aus)`` scores.
        mask: optional mask broadcastable to ``y_true``; 0 leaves an entry out.

    Returns:
        float64 array ``(num_aus,)``.

    Example:
        >>> roc_auc([[1], [0], [1], [0]], [[0.9], [0.1], [0.4], [0.4]])
        array([0.875])
    """
    positive, y_pred, known = _au_arrays(y_true, y_pred, mask)
    result = np.full(positive.shape[1], np.nan)
    for au in range(positive.shape[1]):
        scores, labels = y_pred[known[:, au], au], positive[known[:, au], au]
        num_positive, num_negative = labels.sum(), (~labels).sum()
        if num_positive == 0 or num_negative == 0:
            continue
        ranks = _average_ranks(scores)
        result[au] = (ranks[labels].sum() - num_positive * (num_positive + 1) / 2) / (
            num_positive * num_negative
        )
    return result


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size)
    start = 0
    while start < values.size:
        stop = start
        while stop + 1 < values.size and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start : stop + 1]] = (start + stop) / 2 + 1
        start = stop + 1
    return ranks


def landmark_errors(y_true: Any, y_pred: Any) -> np.ndarray:
    """Mean point-to-point error of each face divided by its inter-ocular distance.

    The inter-ocular distance is that of the ground truth (``tfau.faces``: distance between
    the eye centres).

    Args:
        y_true: ground-truth landmarks ``(num_faces, num_points, 2)``.
        y_pred: predicted landmarks, same shape.

    Returns:
        float64 array ``(num_faces,)`` (a fraction: multiply by 100 for %).

    Example:
        >>> truth = np.zeros((1, 49, 2)); truth[:, 25:31, 0] = 10.0
        >>> landmark_errors(truth, truth + [0.6, 0.8])
        array([0.1])
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 3 or y_true.shape[-1] != 2:
        raise ValueError(
            "`y_true` and `y_pred` must both have shape (num_faces, num_points, 2). "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    errors = np.linalg.norm(y_true - y_pred, axis=-1).mean(axis=-1)
    return errors / inter_ocular_distance(y_true)


def landmark_mean_error(y_true: Any, y_pred: Any) -> float:
    """Mean of ``landmark_errors`` in % of the inter-ocular distance (JAA-Net Table 4)."""
    return float(100.0 * np.mean(landmark_errors(y_true, y_pred)))


def landmark_failure_rate(
    y_true: Any, y_pred: Any, threshold: float = DEFAULT_FAILURE_THRESHOLD
) -> float:
    """Percentage of faces whose normalised mean error exceeds ``threshold`` (10%)."""
    return float(100.0 * np.mean(landmark_errors(y_true, y_pred) > threshold))
