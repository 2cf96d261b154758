"""Face alignment metrics of JAA-Net: mean error (% of inter-ocular distance), failure rate.

Each face's error is the mean point-to-point distance divided by the inter-ocular distance of
its ground-truth landmarks (``tfau.faces.inter_ocular_distance``); a face is a failure when
that exceeds 10%. Both are accumulated over an epoch in variables summed across replicas.
``sample_weight`` of shape ``(batch,)`` leaves out faces without landmarks (weight 0).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tfau.faces import inter_ocular_distance
from tfau.metrics.functional import DEFAULT_FAILURE_THRESHOLD


def _normalised_errors(y_true: Any, y_pred: Any) -> Any:
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    errors = ops.mean(ops.sqrt(ops.sum(ops.square(y_true - y_pred), axis=-1)), axis=-1)
    distance = ops.maximum(inter_ocular_distance(y_true), keras.config.epsilon())
    return errors / distance


class _LandmarkMetric(keras.metrics.Metric):
    """Accumulates a per-face quantity and the (weighted) number of faces."""

    def __init__(self, name: str, dtype: Any) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", aggregation="sum", name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", aggregation="sum", name="count"
        )

    def _per_face(self, errors: Any) -> Any:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any | None = None) -> None:
        values = self._per_face(_normalised_errors(y_true, y_pred))
        weight = ops.ones_like(values)
        if sample_weight is not None:
            weight = weight * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        self.total.assign_add(ops.sum(weight * values))
        self.count.assign_add(ops.sum(weight))

    def result(self) -> Any:
        return 100.0 * ops.divide_no_nan(self.total, self.count)


@keras.saving.register_keras_serializable(package="tfau")
class LandmarkMeanError(_LandmarkMetric):
    """Mean landmark error in % of the inter-ocular distance, averaged over faces.

    Args:
        name: metric name. Defaults to ``"landmark_mean_error"``.
        dtype: dtype of the result.

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((1, 49, 2), "float32"); truth[:, 25:31, 0] = 10.0
        >>> metric = LandmarkMeanError()
        >>> metric.update_state(truth, truth + np.array([0.6, 0.8], "float32"))
        >>> round(float(metric.result()), 4)
        10.0

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018, section 4.1 and Table 4.
    """

    def __init__(self, name: str = "landmark_mean_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def _per_face(self, errors: Any) -> Any:
        return errors


@keras.saving.register_keras_serializable(package="tfau")
class LandmarkFailureRate(_LandmarkMetric):
    """Percentage of faces whose normalised mean landmark error exceeds ``threshold``.

    Args:
        threshold: failure threshold as a fraction of the inter-ocular distance. Defaults to
            0.1 (10%, as JAA-Net).
        name: metric name. Defaults to ``"landmark_failure_rate"``.
        dtype: dtype of the result.

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((2, 49, 2), "float32"); truth[:, 25:31, 0] = 10.0
        >>> prediction = truth.copy(); prediction[0] += 2.0
        >>> metric = LandmarkFailureRate()
        >>> metric.update_state(truth, prediction)
        >>> float(metric.result())
        50.0

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018, section 4.1 and Table 4.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_FAILURE_THRESHOLD,
        name: str = "landmark_failure_rate",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if not threshold > 0:
            raise ValueError(f"`threshold` must be positive. Received: threshold={threshold!r}")
        self.threshold = float(threshold)

    def _per_face(self, errors: Any) -> Any:
        return ops.cast(ops.greater(errors, self.threshold), "float32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}
