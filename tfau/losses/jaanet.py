"""JAA-Net's losses: weighted softmax + weighted Dice (eqs. 6-8), alignment (eq. 2) and
attention refinement (eq. 4).

JAA-Net ends with a 2-way softmax per AU; tfau's ``"au"`` output is the probability of the
"present" class, so the 2-way softmax cross-entropy of eq. 6 is computed from that
probability (``-[p log p_hat + (1 - p) log(1 - p_hat)]``), clipped to ``[1e-7, 1 - 1e-7]``.
Labels: 1 = present, 0 = absent, -1 = unknown; unknown entries contribute nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from tfau.faces import inter_ocular_distance
from tfau.losses._common import (
    check_weights,
    clipped_probabilities,
    known_labels,
    known_mask,
    weights_vector,
)


def _au_weights(au_weights: Any | None) -> Any:
    if au_weights is None:
        return 1.0
    return ops.cast(ops.convert_to_tensor(au_weights), "float32")


def weighted_softmax_cross_entropy(
    y_true: Any, y_pred: Any, au_weights: Any | None = None, mask: Any | None = None
) -> Any:
    """JAA-Net's weighted multi-label softmax loss (eq. 6), per sample.

    ``E_softmax = -1/n_au sum_i w_i [p_i log p_hat_i + (1 - p_i) log(1 - p_hat_i)]``; unknown
    entries contribute 0 and the normalisation stays ``1 / n_au`` as in the paper.

    Args:
        y_true: labels ``(batch, num_aus)``: 1 present, 0 absent, -1 unknown.
        y_pred: probabilities of occurrence ``(batch, num_aus)``.
        au_weights: ``w_i``, shape ``(num_aus,)`` (``tfau.losses.jaanet_au_weights``);
            ``None`` means 1 for every AU.
        mask: optional ``(batch, num_aus)`` mask; entries where it is 0 are ignored.

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> float(weighted_softmax_cross_entropy([[1, 0]], [[0.5, 0.5]], [2.0, 0.0])[0])
        0.6931471824645996

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 6.
    """
    known = known_mask(y_true, mask)
    y_true = known_labels(y_true, known)
    y_pred = clipped_probabilities(y_pred)
    log_likelihood = y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred)
    return -ops.mean(_au_weights(au_weights) * known * log_likelihood, axis=-1)


def weighted_dice(
    y_true: Any,
    y_pred: Any,
    au_weights: Any | None = None,
    mask: Any | None = None,
    smooth: float = 1.0,
    over_batch: bool = True,
) -> Any:
    """JAA-Net's weighted multi-label Dice coefficient loss (eq. 7).

    ``E_dice = 1/n_au sum_i w_i (1 - (2 p_i p_hat_i + eps) / (p_i^2 + p_hat_i^2 + eps))`` with
    the smooth term ``eps = 1``. The paper motivates the Dice loss as a soft F1-score, which
    is a statistic of a set of frames: with ``over_batch=True`` (default, as the authors' code)
    the products and squares are summed over the known frames of the batch for each AU,
    giving one scalar; with ``over_batch=False`` eq. 7 is applied to each frame on its own.

    Args:
        y_true: labels ``(batch, num_aus)``: 1 present, 0 absent, -1 unknown.
        y_pred: probabilities of occurrence ``(batch, num_aus)``.
        au_weights: ``w_i``, shape ``(num_aus,)``; ``None`` means 1 for every AU.
        mask: optional ``(batch, num_aus)`` mask; entries where it is 0 are ignored.
        smooth: the smooth term ``eps``. Defaults to 1 as in the paper.
        over_batch: sum over the batch per AU (scalar result) or per frame.

    Returns:
        A scalar if ``over_batch``, else the loss of each sample, shape ``(batch,)``.

    Example:
        >>> float(weighted_dice([[1.0], [0.0]], [[1.0], [0.0]]))
        0.0

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 7.
    """
    known = known_mask(y_true, mask)
    y_true = known_labels(y_true, known)
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32") * known
    intersection = y_true * y_pred
    squares = ops.square(y_true) + ops.square(y_pred)
    if over_batch:
        intersection = ops.sum(intersection, axis=0)
        squares = ops.sum(squares, axis=0)
    dice = 1.0 - (2.0 * intersection + smooth) / (squares + smooth)
    return ops.mean(_au_weights(au_weights) * dice, axis=-1)


def alignment_loss(y_true: Any, y_pred: Any, mask: Any | None = None) -> Any:
    """JAA-Net's face alignment loss (eq. 2), per sample.

    ``E_align = 1 / (2 d_o^2) sum_j [(x_j - x_hat_j)^2 + (y_j - y_hat_j)^2]`` where ``d_o`` is
    the inter-ocular distance of the ground-truth landmarks (distance between the eye centres,
    ``tfau.faces.inter_ocular_distance``), floored at 1e-7.

    Args:
        y_true: ground-truth landmarks ``(batch, num_points, 2)`` (49, 66 or 68 points).
        y_pred: predicted landmarks, same shape and pixel coordinates.
        mask: optional ``(batch,)`` mask; samples where it is 0 (no landmarks) get 0.

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((1, 49, 2), "float32"); truth[:, 25:31, 0] = 10.0
        >>> prediction = truth.copy(); prediction[:, 0, 1] = 5.0
        >>> float(alignment_loss(truth, prediction)[0])
        0.125

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 2.
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    distance = ops.maximum(inter_ocular_distance(y_true), keras.config.epsilon())
    loss = ops.sum(ops.square(y_true - y_pred), axis=(-2, -1)) / (2.0 * ops.square(distance))
    if mask is not None:
        loss = loss * ops.cast(ops.convert_to_tensor(mask), "float32")
    return loss


def attention_refinement_loss(y_true: Any, y_pred: Any, mask: Any | None = None) -> Any:
    """JAA-Net's attention refinement loss (eq. 4), per sample.

    The sigmoid cross-entropy of the refined maps ``v_hat`` against the initial maps ``v``,
    summed over the AUs and the points of each map:
    ``E_r = -sum_i sum_k [v_ik log v_hat_ik + (1 - v_ik) log(1 - v_hat_ik)]``. The refined
    maps are probabilities (the refinement ends with a sigmoid), clipped to
    ``[1e-7, 1 - 1e-7]``.

    Args:
        y_true: initial attention maps ``(batch, h, w, num_aus)`` in [0, 1].
        y_pred: refined attention maps ``(batch, h, w, num_aus)`` in [0, 1].
        mask: optional mask broadcastable to the maps (e.g. ``(batch, 1, 1, num_aus)``).

    Returns:
        The loss of each sample, shape ``(batch,)``.

    Example:
        >>> import numpy as np
        >>> maps = np.full((1, 2, 2, 1), 0.5, "float32")
        >>> round(float(attention_refinement_loss(maps, maps)[0]), 4)
        2.7726

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 4.
    """
    initial = ops.cast(ops.convert_to_tensor(y_true), "float32")
    refined = clipped_probabilities(y_pred)
    cross_entropy = initial * ops.log(refined) + (1.0 - initial) * ops.log(1.0 - refined)
    if mask is not None:
        cross_entropy = cross_entropy * ops.cast(ops.convert_to_tensor(mask), "float32")
    return -ops.sum(cross_entropy, axis=tuple(range(1, len(cross_entropy.shape))))


class _WeightedAULoss(keras.losses.Loss):
    """Base of the JAA-Net AU losses: keeps the per-AU weights ``w_i`` in the config."""

    def __init__(
        self,
        au_weights: Sequence[float] | None,
        name: str,
        reduction: str,
        dtype: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.au_weights = check_weights(au_weights, "au_weights")

    def _weights(self, y_pred: Any) -> Any | None:
        if self.au_weights is None:
            return None
        return weights_vector(self.au_weights, y_pred, "au_weights")

    def get_config(self) -> dict[str, Any]:
        au_weights = None if self.au_weights is None else list(self.au_weights)
        return {**super().get_config(), "au_weights": au_weights}


@keras.saving.register_keras_serializable(package="tfau")
class WeightedSoftmaxCrossEntropy(_WeightedAULoss):
    """JAA-Net's weighted multi-label softmax loss (eq. 6), mean over the batch.

    Args:
        au_weights: ``w_i`` per AU (``tfau.losses.jaanet_au_weights``); ``None`` means 1.
        name: name of the loss. Defaults to ``"weighted_softmax_cross_entropy"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> loss = WeightedSoftmaxCrossEntropy(au_weights=[1.5, 0.5])
        >>> round(float(loss(np.array([[1, 0]]), np.array([[0.5, 0.5]]))), 4)
        0.6931

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 6.
    """

    def __init__(
        self,
        au_weights: Sequence[float] | None = None,
        name: str = "weighted_softmax_cross_entropy",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(au_weights, name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return weighted_softmax_cross_entropy(y_true, y_pred, self._weights(y_pred))


@keras.saving.register_keras_serializable(package="tfau")
class WeightedDice(_WeightedAULoss):
    """JAA-Net's weighted multi-label Dice coefficient loss (eq. 7).

    Args:
        au_weights: ``w_i`` per AU; ``None`` means 1.
        smooth: the smooth term. Defaults to 1 as in the paper.
        over_batch: sum over the batch for each AU (default) or apply eq. 7 per frame; see
            ``weighted_dice``.
        name: name of the loss. Defaults to ``"weighted_dice"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> round(float(WeightedDice()(np.array([[1.0], [0.0]]), np.array([[0.5], [0.5]]))), 4)
        0.2

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 7.
    """

    def __init__(
        self,
        au_weights: Sequence[float] | None = None,
        smooth: float = 1.0,
        over_batch: bool = True,
        name: str = "weighted_dice",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(au_weights, name=name, reduction=reduction, dtype=dtype)
        if not smooth >= 0:
            raise ValueError(f"`smooth` must be non-negative. Received: smooth={smooth}")
        self.smooth = float(smooth)
        self.over_batch = bool(over_batch)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return weighted_dice(
            y_true,
            y_pred,
            self._weights(y_pred),
            smooth=self.smooth,
            over_batch=self.over_batch,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth, "over_batch": self.over_batch}


@keras.saving.register_keras_serializable(package="tfau")
class JAANetAULoss(WeightedDice):
    """JAA-Net's AU detection loss (eq. 8): weighted softmax (eq. 6) + weighted Dice (eq. 7).

    Args:
        au_weights: ``w_i`` per AU, shared by both terms; ``None`` means 1.
        smooth: the Dice smooth term. Defaults to 1.
        over_batch: how the Dice term is computed, see ``weighted_dice``.
        name: name of the loss. Defaults to ``"jaanet_au_loss"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> round(float(JAANetAULoss()(np.array([[1.0], [0.0]]), np.array([[0.5], [0.5]]))), 4)
        0.8931

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 8.
    """

    def __init__(
        self,
        au_weights: Sequence[float] | None = None,
        smooth: float = 1.0,
        over_batch: bool = True,
        name: str = "jaanet_au_loss",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            au_weights,
            smooth=smooth,
            over_batch=over_batch,
            name=name,
            reduction=reduction,
            dtype=dtype,
        )

    def call(self, y_true: Any, y_pred: Any) -> Any:
        weights = self._weights(y_pred)
        softmax = weighted_softmax_cross_entropy(y_true, y_pred, weights)
        dice = weighted_dice(
            y_true, y_pred, weights, smooth=self.smooth, over_batch=self.over_batch
        )
        return softmax + dice


@keras.saving.register_keras_serializable(package="tfau")
class AlignmentLoss(keras.losses.Loss):
    """JAA-Net's face alignment loss (eq. 2), mean over the batch.

    Args:
        name: name of the loss. Defaults to ``"alignment_loss"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> truth = np.zeros((1, 49, 2), "float32"); truth[:, 25:31, 0] = 10.0
        >>> round(float(AlignmentLoss()(truth, truth + 1.0)), 4)
        0.49

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 2.
    """

    def __init__(
        self,
        name: str = "alignment_loss",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return alignment_loss(y_true, y_pred)


@keras.saving.register_keras_serializable(package="tfau")
class AttentionRefinementLoss(keras.losses.Loss):
    """JAA-Net's attention refinement loss (eq. 4), mean over the batch.

    ``y_true`` holds the initial (landmark-defined) attention maps, ``y_pred`` the refined
    ones, both ``(batch, h, w, num_aus)``.

    Args:
        name: name of the loss. Defaults to ``"attention_refinement_loss"``.
        reduction: Keras reduction over the per-sample losses.
        dtype: dtype of the loss computation, see ``keras.losses.Loss``.

    Example:
        >>> import numpy as np
        >>> maps = np.full((1, 2, 2, 1), 0.5, "float32")
        >>> round(float(AttentionRefinementLoss()(maps, maps)), 4)
        2.7726

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, eq. 4.
    """

    def __init__(
        self,
        name: str = "attention_refinement_loss",
        reduction: str = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return attention_refinement_loss(y_true, y_pred)
