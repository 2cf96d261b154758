"""AU detection and face alignment metrics, masking unknown AU labels (-1).

Keras metrics (accumulate over an epoch, work under ``tf.distribute``): ``F1Frame``,
``AUAccuracy``, ``AUROC`` (per AU; ``result()`` is the mean, ``per_au_result()`` the vector),
``LandmarkMeanError`` and ``LandmarkFailureRate``. Plain numpy functions for result tables:
``f1_frame``, ``accuracy``, ``roc_auc``, ``confusion_counts``, ``landmark_errors``,
``landmark_mean_error``, ``landmark_failure_rate``.
"""

from tfau.metrics.au import AUROC, AUAccuracy, F1Frame
from tfau.metrics.functional import (
    accuracy,
    confusion_counts,
    f1_frame,
    landmark_errors,
    landmark_failure_rate,
    landmark_mean_error,
    roc_auc,
)
from tfau.metrics.landmarks import LandmarkFailureRate, LandmarkMeanError

__all__ = [
    "AUROC",
    "AUAccuracy",
    "F1Frame",
    "LandmarkFailureRate",
    "LandmarkMeanError",
    "accuracy",
    "confusion_counts",
    "f1_frame",
    "landmark_errors",
    "landmark_failure_rate",
    "landmark_mean_error",
    "roc_auc",
]
