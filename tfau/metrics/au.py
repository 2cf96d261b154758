"""Masked per-AU Keras metrics: F1-frame, accuracy and ROC AUC, accumulated over an epoch.

Labels follow tfau's convention: 1 = present, 0 = absent, -1 = unknown; unknown entries are
left out. State lives in non-trainable variables summed across replicas (``aggregation="sum"``,
synchronised on read), so the metrics give the same numbers under ``tf.distribute``
strategies as on one device. ``result()`` returns the mean over AUs (the papers' "Avg."
column), or the per-AU vector with ``per_au=True``; ``per_au_result()`` always returns the
vector.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tfau.metrics.functional import DEFAULT_THRESHOLD


def _check_num_aus(num_aus: int) -> int:
    if not isinstance(num_aus, int) or isinstance(num_aus, bool) or num_aus < 1:
        raise ValueError(f"`num_aus` must be a positive integer. Received: num_aus={num_aus!r}")
    return num_aus


def _known_weights(metric: keras.metrics.Metric, y_true: Any, y_pred: Any, sample_weight: Any):
    """Returns ``(positive, y_pred, weight)`` as float32 ``(batch, num_aus)`` tensors."""
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    num_aus = y_pred.shape[-1]
    if len(y_pred.shape) != 2 or (num_aus is not None and num_aus != metric.num_aus):
        raise ValueError(
            f"`{metric.name}` expects predictions of shape (batch, {metric.num_aus}). "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    y_true = ops.reshape(y_true, ops.shape(y_pred))
    weight = ops.cast(ops.greater_equal(y_true, 0.0), "float32")
    if sample_weight is not None:
        sample_weight = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        if len(sample_weight.shape) == 1:
            sample_weight = ops.expand_dims(sample_weight, -1)
        weight = weight * sample_weight
    positive = ops.cast(ops.equal(y_true, 1.0), "float32")
    return positive, y_pred, weight


class _PerAUMetric(keras.metrics.Metric):
    """Base of the per-AU metrics: ``num_aus``, ``per_au`` and the mean/vector result."""

    def __init__(self, num_aus: int, per_au: bool, name: str, dtype: Any) -> None:
        super().__init__(name=name, dtype=dtype)
        self.num_aus = _check_num_aus(num_aus)
        self.per_au = bool(per_au)

    def per_au_result(self) -> Any:
        """Returns the metric of each AU, shape ``(num_aus,)``."""
        raise NotImplementedError

    def result(self) -> Any:
        values = self.per_au_result()
        return values if self.per_au else ops.mean(values)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_aus": self.num_aus, "per_au": self.per_au}


class _ConfusionMetric(_PerAUMetric):
    """Accumulates per-AU TP/FP/FN/TN counts at a threshold (``p >= threshold``)."""

    def __init__(self, num_aus: int, threshold: float, per_au: bool, name: str, dtype: Any) -> None:
        super().__init__(num_aus, per_au, name=name, dtype=dtype)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"`threshold` must be in [0, 1]. Received: threshold={threshold!r}")
        self.threshold = float(threshold)
        self.true_positives, self.false_positives, self.false_negatives, self.true_negatives = (
            self.add_variable(
                shape=(self.num_aus,),
                initializer="zeros",
                dtype="float32",
                aggregation="sum",
                name=count,
            )
            for count in ("true_positives", "false_positives", "false_negatives", "true_negatives")
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any | None = None) -> None:
        positive, y_pred, weight = _known_weights(self, y_true, y_pred, sample_weight)
        predicted = ops.cast(ops.greater_equal(y_pred, self.threshold), "float32")
        self.true_positives.assign_add(ops.sum(weight * positive * predicted, axis=0))
        self.false_positives.assign_add(ops.sum(weight * (1.0 - positive) * predicted, axis=0))
        self.false_negatives.assign_add(ops.sum(weight * positive * (1.0 - predicted), axis=0))
        self.true_negatives.assign_add(
            ops.sum(weight * (1.0 - positive) * (1.0 - predicted), axis=0)
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="tfau")
class F1Frame(_ConfusionMetric):
    """F1-frame of each AU, ``2 TP / (2 TP + FP + FN)``, accumulated over frames.

    An AU with no positive frame and no positive prediction scores 0 (as scikit-learn's
    ``f1_score``). ``result()`` is the mean over AUs unless ``per_au=True``.

    Args:
        num_aus: number of AUs (columns of ``y_true`` / ``y_pred``).
        threshold: a frame is predicted present when ``p >= threshold``. Defaults to 0.5.
        per_au: ``result()`` returns the per-AU vector instead of the mean. Defaults to False.
        name: metric name. Defaults to ``"f1_frame"``.
        dtype: dtype of the result.

    Example:
        >>> import numpy as np
        >>> metric = F1Frame(num_aus=2)
        >>> metric.update_state(np.array([[1, 0], [1, 1]]), np.array([[0.9, 0.2], [0.3, 0.8]]))
        >>> metric.per_au_result().numpy()
        array([0.6666667, 1.       ], dtype=float32)

    Reference:
        Every paper's F1-frame, e.g. Zhao et al., "Deep Region and Multi-label Learning for
        Facial Action Unit Detection", CVPR 2016, section 4.1.
    """

    def __init__(
        self,
        num_aus: int,
        threshold: float = DEFAULT_THRESHOLD,
        per_au: bool = False,
        name: str = "f1_frame",
        dtype: Any = None,
    ) -> None:
        super().__init__(num_aus, threshold, per_au, name=name, dtype=dtype)

    def per_au_result(self) -> Any:
        denominator = 2.0 * self.true_positives + self.false_positives + self.false_negatives
        return ops.divide_no_nan(2.0 * self.true_positives, denominator)


@keras.saving.register_keras_serializable(package="tfau")
class AUAccuracy(_ConfusionMetric):
    """Accuracy of each AU over its known frames, accumulated over frames.

    Args:
        num_aus: number of AUs.
        threshold: a frame is predicted present when ``p >= threshold``. Defaults to 0.5.
        per_au: ``result()`` returns the per-AU vector instead of the mean. Defaults to False.
        name: metric name. Defaults to ``"au_accuracy"``.
        dtype: dtype of the result.

    Example:
        >>> import numpy as np
        >>> metric = AUAccuracy(num_aus=2, per_au=True)
        >>> metric.update_state(np.array([[1, 0], [1, -1]]), np.array([[0.9, 0.7], [0.2, 0.1]]))
        >>> metric.result().numpy()
        array([0.5, 0. ], dtype=float32)

    Reference:
        JAA-Net's accuracy tables: Shao et al., "Deep Adaptive Attention for Joint Facial
        Action Unit Detection and Face Alignment", ECCV 2018, Tables 1-2.
    """

    def __init__(
        self,
        num_aus: int,
        threshold: float = DEFAULT_THRESHOLD,
        per_au: bool = False,
        name: str = "au_accuracy",
        dtype: Any = None,
    ) -> None:
        super().__init__(num_aus, threshold, per_au, name=name, dtype=dtype)

    def per_au_result(self) -> Any:
        correct = self.true_positives + self.true_negatives
        total = correct + self.false_positives + self.false_negatives
        return ops.divide_no_nan(correct, total)


@keras.saving.register_keras_serializable(package="tfau")
class AUROC(_PerAUMetric):
    """Area under the ROC curve of each AU, from score histograms accumulated over frames.

    Like ``keras.metrics.AUC`` but per AU and masked: scores in [0, 1] are counted into
    ``num_thresholds`` equal-width buckets, separately for positive and negative frames of
    each AU; the area is the trapezoidal ROC over the bucket edges, which counts pairs in the
    same bucket as ties (one half). It equals the exact AUC when no positive and negative
    share a bucket, and is within about ``1 / num_thresholds`` of it otherwise. An AU whose
    known frames are all of one class scores 0.

    Args:
        num_aus: number of AUs.
        num_thresholds: number of score buckets. Defaults to 200 (``keras.metrics.AUC``).
        per_au: ``result()`` returns the per-AU vector instead of the mean. Defaults to False.
        name: metric name. Defaults to ``"auc"``.
        dtype: dtype of the result.

    Example:
        >>> import numpy as np
        >>> metric = AUROC(num_aus=1)
        >>> metric.update_state(np.array([[1], [0], [1], [0]]), np.array([[.9], [.1], [.4], [.4]]))
        >>> float(metric.result())
        0.875

    Reference:
        Every paper's AUC, e.g. Zhao et al., "Deep Region and Multi-label Learning for Facial
        Action Unit Detection", CVPR 2016, section 4.1.
    """

    def __init__(
        self,
        num_aus: int,
        num_thresholds: int = 200,
        per_au: bool = False,
        name: str = "auc",
        dtype: Any = None,
    ) -> None:
        super().__init__(num_aus, per_au, name=name, dtype=dtype)
        if not isinstance(num_thresholds, int) or num_thresholds < 2:
            raise ValueError(
                "`num_thresholds` must be an integer >= 2. "
                f"Received: num_thresholds={num_thresholds!r}"
            )
        self.num_thresholds = num_thresholds
        self.positive_histogram = self.add_variable(
            shape=(self.num_aus, num_thresholds),
            initializer="zeros",
            dtype="float32",
            aggregation="sum",
            name="positive_histogram",
        )
        self.negative_histogram = self.add_variable(
            shape=(self.num_aus, num_thresholds),
            initializer="zeros",
            dtype="float32",
            aggregation="sum",
            name="negative_histogram",
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any | None = None) -> None:
        positive, y_pred, weight = _known_weights(self, y_true, y_pred, sample_weight)
        buckets = ops.cast(ops.floor(ops.clip(y_pred, 0.0, 1.0) * self.num_thresholds), "int32")
        buckets = ops.minimum(buckets, self.num_thresholds - 1)
        # One segment per (AU, bucket): segment id = au * num_thresholds + bucket.
        au_offset = ops.arange(self.num_aus, dtype="int32") * self.num_thresholds
        segments = ops.reshape(buckets + au_offset, (-1,))
        num_segments = self.num_aus * self.num_thresholds
        shape = (self.num_aus, self.num_thresholds)
        for histogram, counted in (
            (self.positive_histogram, weight * positive),
            (self.negative_histogram, weight * (1.0 - positive)),
        ):
            counts = ops.segment_sum(ops.reshape(counted, (-1,)), segments, num_segments)
            histogram.assign_add(ops.reshape(counts, shape))

    def per_au_result(self) -> Any:
        positives = self.positive_histogram
        negatives = self.negative_histogram
        # Positives scoring in a higher bucket than each negative bucket, plus half the ties.
        above = ops.cumsum(ops.flip(positives, axis=-1), axis=-1)
        above = ops.flip(above, axis=-1) - positives
        pairs = ops.sum(negatives * (above + 0.5 * positives), axis=-1)
        total = ops.sum(positives, axis=-1) * ops.sum(negatives, axis=-1)
        return ops.divide_no_nan(pairs, total)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_thresholds": self.num_thresholds}
