"""Loss terms of a `TrainConfig` as per-example functions of ``tfau.losses``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfau import losses as au_losses

#: name -> (functional loss, (weight argument, ``tfau.data.au_loss_weights`` kind) or None).
LOSS_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[str, str] | None]] = {
    "sigmoid_cross_entropy": (au_losses.multilabel_sigmoid_cross_entropy, None),
    "offset_cross_entropy": (au_losses.offset_cross_entropy, None),
    "weighted_bce": (au_losses.weighted_binary_cross_entropy, ("pos_weight", "pattnet")),
    "weighted_softmax_ce": (au_losses.weighted_softmax_cross_entropy, ("au_weights", "jaanet")),
    "weighted_dice": (au_losses.weighted_dice, ("au_weights", "jaanet")),
    "alignment": (au_losses.alignment_loss, None),
    "attention_refinement": (au_losses.attention_refinement_loss, None),
}


def needs_labels(name: str, kwargs: dict[str, Any]) -> bool:
    """True when loss ``name`` has a weight argument set to ``"auto"``."""
    _, weight = _lookup(name)
    return weight is not None and kwargs.get(weight[0]) == "auto"


def make_loss(
    name: str, kwargs: dict[str, Any], labels: np.ndarray | None = None
) -> Callable[[Any, Any], Any]:
    """``fn(y_true, y_pred)`` of loss ``name``: per example ``(batch,)`` or a batch scalar.

    Args:
        name: a `LOSS_FUNCTIONS` name.
        kwargs: its keyword arguments; the weight argument may be ``"auto"``.
        labels: training labels ``(examples, num_aus)`` for ``"auto"`` weights.

    Returns:
        The loss function.

    Example:
        >>> fn = make_loss("sigmoid_cross_entropy", {})
        >>> round(float(fn([[1.0]], [[0.5]])[0]), 4)
        0.6931
    """
    fn, weight = _lookup(name)
    kwargs = dict(kwargs)
    if weight is not None and kwargs.get(weight[0]) == "auto":
        if labels is None:
            raise ValueError(f'Loss {name!r} with {weight[0]}="auto" needs the training labels.')
        from tfau.data.balancing import au_loss_weights

        kwargs[weight[0]] = au_loss_weights(labels, weight[1]).tolist()

    def loss(y_true: Any, y_pred: Any) -> Any:
        return fn(y_true, y_pred, **kwargs)

    loss.__name__ = name
    return loss


def _lookup(name: str) -> tuple[Callable[..., Any], tuple[str, str] | None]:
    try:
        return LOSS_FUNCTIONS[name]
    except KeyError:
        raise KeyError(
            f"Unknown loss {name!r}. Losses: {', '.join(sorted(LOSS_FUNCTIONS))}."
        ) from None
