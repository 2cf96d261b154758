"""Multi-label binary cross-entropies of DRML, EAC-Net and PAttNet, with unknown labels masked.

Labels follow tfau's convention: 1 = present, 0 = absent, -1 = unknown. Unknown entries (and
entries where an explicit ``mask`` is 0) contribute nothing. Predictions are probabilities
(tfau networks end with a sigmoid or softmax), clipped to ``[1e-7, 1 - 1e-7]`` before the
logarithm where the formula needs it.

The functional forms return one loss per sample, shape ``(batch,)``; the ``Loss`` classes
average them over the batch (Keras' ``"sum_over_batch_size"`` reduction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from tfau.losses._common import (
    check_weights,
    clipped_probabilities,
    known_labels,
    known_mask,
    weights_vector,
)

#: EAC-Net's offset (eq. 3): probabilities are mapped to ``(p + 0.05) / 1.05``.
EAC_OFFSET = 0.05


def multilabel_sigmoid_cross_entropy(y_true: Any, y_pred: Any, mask: Any | None = None) -> Any:
    """DRML's multi-label sigmoid cross-entropy, summed over AUs, per sample.

    DRML writes labels in {-1, 0, +1} with -1 = absent, +1 = present and 0 = ignored; tfau's
    1 / 0 / -1 labels map onto them as present -> +1, absent -> -1, unknown -> 0. The loss of
    one sample is ``-sum_c [y_c = 1] log p_c + [y_c = 0] log(1 - p_c)`` over its known AUs; the
    ``MultiLabelSigmoidCrossEntropy`` class divides the batch sum by the batch size N, as the
    paper's ``-1/N sum_n sum_c`` and the authors' Caffe loss do.

    Args:
        y_true: labels ``(batch, num_aus)``: 1 present, 0 absent, -1 unknown.
        y_pred: probabilities ``(batch, num_aus)``.
        mask: optional ``(batch, num_aus)`` mask; entries where it is 0 are ignored.

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> round(float(multilabel_sigmoid_cross_entropy([[1, -1]], [[0.5, 0.9]])[0]), 4)
        0.6931

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, section 3.1.
    """
    known = known_mask(y_true, mask)
    y_true = known_labels(y_true, known)
    y_pred = clipped_probabilities(y_pred)
    log_likelihood = y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred)
    return -ops.sum(known * log_likelihood, axis=-1)


def offset_cross_entropy(
    y_true: Any, y_pred: Any, mask: Any | None = None, offset: float = EAC_OFFSET
) -> Any:
    """EAC-Net's cross-entropy with offsets (eq. 3), summed over AUs, per sample.

    ``-sum_c [l_c log((p_c + o) / (1 + o)) + (1 - l_c) log((1 + o - p_c) / (1 + o))]`` with
    ``o = 0.05``: the offset bounds the loss of a confident mistake by ``log(21) = 3.04``
    without clipping. Probabilities are clipped to [0, 1] only.

    Args:
        y_true: labels ``(batch, num_aus)``: 1 present, 0 absent, -1 unknown.
        y_pred: probabilities ``(batch, num_aus)``.
        mask: optional ``(batch, num_aus)`` mask; entries where it is 0 are ignored.
        offset: the offset ``o``. Defaults to 0.05 as in the paper.

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> float(offset_cross_entropy([[1.0]], [[0.0]])[0])  # doctest: +ELLIPSIS
        3.04...

    Reference:
        Li, Abtahi, Zhu and Yin, "EAC-Net: Deep Nets with Enhancing and Cropping for Facial
        Action Unit Detection", TPAMI 2018, eq. 3.
    """
    known = known_mask(y_true, mask)
    y_true = known_labels(y_true, known)
    y_pred = ops.clip(ops.cast(ops.convert_to_tensor(y_pred), "float32"), 0.0, 1.0)
    scale = 1.0 + offset
    log_likelihood = y_true * ops.log((y_pred + offset) / scale) + (1.0 - y_true) * ops.log(
        (scale - y_pred) / scale
    )
    return -ops.sum(known * log_likelihood, axis=-1)


def weighted_binary_cross_entropy(
    y_true: Any,
    y_pred: Any,
    pos_weight: Any | None = None,
    mask: Any | None = None,
) -> Any:
    """PAttNet's weighted binary cross-entropy (eq. 4), averaged over AUs, per sample.

    ``L = -w_pos y log p - (1 - y) log(1 - p)`` for each AU, with ``w_pos`` = negatives /
    positives of that AU in the training set (``tfau.losses.positive_weights``). Unknown
    entries contribute 0; the sum over AUs is divided by the number of AUs, so that a network
    per AU (PAttNet's setting) gets exactly eq. 4. With ``pos_weight=None`` this is the plain
    masked binary cross-entropy.

    Args:
        y_true: labels ``(batch, num_aus)``: 1 present, 0 absent, -1 unknown.
        y_pred: probabilities ``(batch, num_aus)``.
        pos_weight: ``w_pos`` per AU, shape ``(num_aus,)``, or a scalar; ``None`` means 1.
        mask: optional ``(batch, num_aus)`` mask; entries where it is 0 are ignored.

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> float(weighted_binary_cross_entropy([[1.0]], [[0.5]], pos_weight=[2.0])[0])
        1.3862943649291992

    Reference:
        Onal Ertugrul, Jeni, Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, eq. 4.
    """
    known = known_mask(y_true, mask)
    y_true = known_labels(y_true, known)
    y_pred = clipped_probabilities(y_pred)
    positive_term = y_true * ops.log(y_pred)
    if pos_weight is not None:
        positive_term = positive_term * ops.cast(ops.convert_to_tensor(pos_weight), "float32")
    log_likelihood = positive_term + (1.0 - y_true) * ops.log(1.0 - y_pred)
    return -ops.mean(known * log_likelihood, axis=-1)


@keras.saving.register_keras_serializable(package="tfau")
class MultiLabelSigmoidCrossEntropy(keras.losses.Loss):
    """DRML's multi-label sigmoid cross-entropy: summed over known AUs, divided by batch size.

    See ``multilabel_sigmoid_cross_entropy`` for the formula and the label mapping.

    Args:
        name: name of the loss. Defaults to ``"multilabel_sigmoid_cross_entropy"``.
        reduction: Keras reduction over the per-sample losses. Defaults to
            ``"sum_over_batch_size"`` (sum over the batch divided by the batch size).
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> loss = MultiLabelSigmoidCrossEntropy()
        >>> y_true, y_pred = np.array([[1, 0], [-1, 1]]), np.array([[0.5, 0.5], [0.9, 0.5]])
        >>> float(loss(y_true, y_pred))  # doctest: +ELLIPSIS
        1.039...

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, section 3.1.
    """

    def __init__(
        self,
        name: str = "multilabel_sigmoid_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return multilabel_sigmoid_cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="tfau")
class OffsetCrossEntropy(keras.losses.Loss):
    """EAC-Net's cross-entropy with offsets (eq. 3), summed over known AUs, mean over batch.

    Args:
        offset: the offset added to the probabilities. Defaults to 0.05 as in the paper.
        name: name of the loss. Defaults to ``"offset_cross_entropy"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> loss = OffsetCrossEntropy()
        >>> float(loss(np.array([[1.0, -1.0]]), np.array([[0.0, 0.3]])))  # doctest: +ELLIPSIS
        3.04...

    Reference:
        Li, Abtahi, Zhu and Yin, "EAC-Net: Deep Nets with Enhancing and Cropping for Facial
        Action Unit Detection", TPAMI 2018, eq. 3.
    """

    def __init__(
        self,
        offset: float = EAC_OFFSET,
        name: str = "offset_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not offset > 0:
            raise ValueError(f"`offset` must be a positive number. Received: offset={offset}")
        self.offset = float(offset)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return offset_cross_entropy(y_true, y_pred, offset=self.offset)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "offset": self.offset}


@keras.saving.register_keras_serializable(package="tfau")
class WeightedBinaryCrossEntropy(keras.losses.Loss):
    """PAttNet's weighted binary cross-entropy (eq. 4), averaged over AUs, mean over batch.

    Args:
        pos_weight: ``w_pos`` per AU (negatives / positives in the training set, see
            ``tfau.losses.positive_weights``) or a single weight; ``None`` gives the plain
            masked binary cross-entropy. Defaults to ``None``.
        name: name of the loss. Defaults to ``"weighted_binary_cross_entropy"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> loss = WeightedBinaryCrossEntropy(pos_weight=[3.0, 1.0])
        >>> round(float(loss(np.array([[1, -1]]), np.array([[0.5, 0.2]]))), 4)
        1.0397

    Reference:
        Onal Ertugrul, Jeni, Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, eq. 4.
    """

    def __init__(
        self,
        pos_weight: Sequence[float] | float | None = None,
        name: str = "weighted_binary_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.pos_weight = check_weights(pos_weight, "pos_weight")

    def call(self, y_true: Any, y_pred: Any) -> Any:
        pos_weight = None
        if self.pos_weight is not None:
            pos_weight = weights_vector(self.pos_weight, y_pred, "pos_weight")
        return weighted_binary_cross_entropy(y_true, y_pred, pos_weight=pos_weight)

    def get_config(self) -> dict[str, Any]:
        pos_weight = None if self.pos_weight is None else list(self.pos_weight)
        return {**super().get_config(), "pos_weight": pos_weight}
