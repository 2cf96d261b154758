"""A 2D locally connected layer (Keras 3 has none): a convolution without weight sharing."""

from collections.abc import Sequence

import keras
from keras import ops

from tfau.layers import _patches


def _pair(value: object, name: str) -> tuple[int, int]:
    """An int or a pair of ints -> a pair of positive ints, or a ``ValueError`` naming it."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        isinstance(pair, str)
        or not isinstance(pair, Sequence)
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair)
    ):
        raise ValueError(
            f"`{name}` must be a positive integer or a pair of positive integers. "
            f"Received: {name}={value!r}"
        )
    return tuple(pair)


@keras.saving.register_keras_serializable(package="tfau")
class LocallyConnected2D(keras.layers.Layer):
    """Locally connected 2D layer: a convolution with its own kernel at every output position.

    Like ``Conv2D``, each output pixel is a weighted sum over a ``kernel_size`` window of the
    input, but no weights are shared: the kernel (and bias) differs at every output position.
    DeepFace introduced it for aligned faces, whose regions have different local statistics;
    DRML's "LCN" baseline (Table 2) is its ConvNet with a locally connected layer in place of
    the region layer (the paper gives no kernel size; with ``kernel_size=3`` on DRML's
    ``160 x 160 x 32`` map the layer holds about 236 M weights).

    The computation is vectorised: the ``kernel_size`` windows are gathered with
    ``kh * kw`` strided slices, then one ``einsum`` applies the per-position kernels.

    Args:
        filters: int, number of output channels.
        kernel_size: int or pair of ints, height and width of the window.
        strides: int or pair of ints, step between windows. Defaults to ``1``.
        padding: ``"valid"`` (no padding) or ``"same"`` (zero padding as in ``Conv2D``: the
            output has ``ceil(size / stride)`` positions). Defaults to ``"valid"``.
        use_bias: bool, whether every output position has its own bias vector. Defaults to
            ``True``.
        activation: optional activation applied to the output. Defaults to ``None``.
        kernel_initializer: initializer of the kernels; variance-scaling initializers use the
            fans of one position's kernel. Defaults to ``"glorot_uniform"``.
        bias_initializer: initializer of the biases. Defaults to ``"zeros"``.
        kernel_regularizer: optional regularizer of the kernels.
        bias_regularizer: optional regularizer of the biases.
        **kwargs: base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: float tensor of shape ``(batch, height, width, channels)`` with known
            ``height``, ``width`` and ``channels`` (the weights depend on them).

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, out_height, out_width, filters)`` with ``out = (size - kernel) // stride + 1``
        for ``"valid"`` and ``ceil(size / stride)`` for ``"same"``.

    Weights:
        ``kernel`` of shape ``(out_height, out_width, kh * kw * channels, filters)``, the window
        flattened in ``(row, column, channel)`` order; ``bias`` of shape
        ``(out_height, out_width, filters)``.

    Example:

    >>> import numpy as np
    >>> import tfau
    >>> layer = tfau.layers.LocallyConnected2D(filters=4, kernel_size=3)
    >>> layer(np.zeros((2, 8, 8, 2), "float32")).shape
    TensorShape([2, 6, 6, 4])
    >>> layer.count_params()  # 6 * 6 positions x (3*3*2*4 kernel + 4 bias)
    2736

    Reference:
        Y. Taigman, M. Yang, M. Ranzato, L. Wolf. DeepFace: Closing the Gap to Human-Level
        Performance in Face Verification. CVPR 2014 (locally connected layers); K. Zhao,
        W.-S. Chu, H. Zhang. Deep Region and Multi-label Learning for Facial Action Unit
        Detection. CVPR 2016, section 4 ("LCN" baseline).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        use_bias: bool = True,
        activation=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _patches.check_positive_int(filters, "filters")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f'`padding` must be "valid" or "same". Received: padding={padding!r}')
        self.padding = padding.lower()
        self.use_bias = bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def _output_size(self, size: int | None, axis: int) -> int | None:
        if size is None:
            return None
        kernel, stride = self.kernel_size[axis], self.strides[axis]
        if self.padding == "same":
            return -(-size // stride)
        return (size - kernel) // stride + 1 if size >= kernel else 0

    def _padding_amounts(self, size: int, axis: int) -> tuple[int, int]:
        """``Conv2D``'s "same" convention: the odd pixel of padding goes after."""
        if self.padding == "valid":
            return 0, 0
        out = self._output_size(size, axis)
        total = max((out - 1) * self.strides[axis] + self.kernel_size[axis] - size, 0)
        return total // 2, total - total // 2

    def build(self, input_shape):
        if len(input_shape) != 4 or None in tuple(input_shape[1:]):
            raise ValueError(
                "LocallyConnected2D needs a 4D input (batch, height, width, channels) with "
                "known height, width and channels, since it has one kernel per output "
                f"position. Received: input_shape={tuple(input_shape)}"
            )
        _, height, width, channels = input_shape
        out_height, out_width = self._output_size(height, 0), self._output_size(width, 1)
        if out_height < 1 or out_width < 1:
            raise ValueError(
                "`kernel_size` is larger than the input of LocallyConnected2D with "
                f'padding="valid". Received: kernel_size={self.kernel_size}, '
                f"height={height}, width={width}"
            )
        kh, kw = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(out_height, out_width, kh * kw * channels, self.filters),
            initializer=_patches.per_unit_initializer(
                self.kernel_initializer, (kh, kw, channels, self.filters)
            ),
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(out_height, out_width, self.filters),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None

    def call(self, inputs):
        _, height, width, _ = inputs.shape
        pad_top, pad_bottom = self._padding_amounts(height, 0)
        pad_left, pad_right = self._padding_amounts(width, 1)
        if pad_top or pad_bottom or pad_left or pad_right:
            inputs = ops.pad(inputs, ((0, 0), (pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
        out_height, out_width = self.kernel.shape[:2]
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        windows = ops.concatenate(
            [
                inputs[
                    :,
                    row : row + (out_height - 1) * sh + 1 : sh,
                    column : column + (out_width - 1) * sw + 1 : sw,
                    :,
                ]
                for row in range(kh)
                for column in range(kw)
            ],
            axis=-1,
        )
        outputs = ops.einsum("bhwk,hwkf->bhwf", windows, ops.cast(self.kernel, windows.dtype))
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            self._output_size(input_shape[1], 0),
            self._output_size(input_shape[2], 1),
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
