"""Nearest-neighbour resizing with PyTorch's index rule (``F.interpolate(mode="nearest")``)."""

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops


def nearest_indices(source: int, target: int) -> np.ndarray:
    """Source index of each of ``target`` output cells: ``floor(i * source / target)``
    (in float32).

    PyTorch's ``F.interpolate(..., mode="nearest")`` rule (and OpenCV's ``INTER_NEAREST``).
    ``tf.image.resize(method="nearest")`` uses half-pixel centres instead,
    ``floor((i + 0.5) * source / target)``, which picks other cells (e.g. 52 -> 44).
    """
    # In float32, as PyTorch computes it: 11 * float32(52 / 44) = 12.999999 picks cell 12,
    # where exact arithmetic gives 13.
    scale = np.float32(source / target)
    return np.floor(np.arange(target, dtype=np.float32) * scale).astype("int32")


@keras.saving.register_keras_serializable(package="tfau")
class NearestResize(keras.layers.Layer):
    """Resizes maps to ``size`` by nearest neighbour, with PyTorch's index rule.

    JAA-Net's released code makes the target of its attention-refinement loss with
    ``F.interpolate(initial_maps, size=44)``: the 52 x 52 initial maps resized to the
    refined maps' 44 x 44 by taking cell ``floor(i * 52 / 44)`` of each row and column. This
    layer gathers exactly those cells (a constant index table, no interpolation weights), so
    the values are copied, never blended.

    Args:
        size: int or ``(height, width)``, the output size.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, height, width, channels)`` with known ``height`` and ``width``.

    Output shape:
        ``(batch, size[0], size[1], channels)``.

    Example:

    >>> import numpy as np
    >>> from tfau.layers import NearestResize
    >>> maps = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> NearestResize(2)(maps)[0, :, :, 0].numpy().tolist()
    [[0.0, 2.0], [8.0, 10.0]]

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018, eq. 4 (target as in the authors' PyTorch training code).
    """

    def __init__(self, size: int | Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if (
            isinstance(size, str)
            or not isinstance(size, Sequence)
            or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
        ):
            raise ValueError(
                "`size` must be a positive integer or a (height, width) pair of positive "
                f"integers. Received: size={size!r}"
            )
        self.size = tuple(size)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "`NearestResize` expects (batch, height, width, channels) with known height "
                f"and width. Received: input_shape={tuple(input_shape)}"
            )
        self._rows = nearest_indices(input_shape[1], self.size[0])
        self._columns = nearest_indices(input_shape[2], self.size[1])

    def call(self, inputs):
        x = ops.take(inputs, self._rows, axis=1)
        return ops.take(x, self._columns, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self) -> dict:
        config = super().get_config()
        config["size"] = list(self.size)
        return config
