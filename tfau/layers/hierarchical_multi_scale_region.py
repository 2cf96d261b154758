"""JAA-Net's hierarchical and multi-scale region layer."""

from collections.abc import Sequence

import keras
from keras import ops

from tfau.layers import _patches


@keras.saving.register_keras_serializable(package="tfau")
class HierarchicalMultiScaleRegion(keras.layers.Layer):
    """Hierarchical and multi-scale region block of JAA-Net.

    A ``3 x 3`` convolution to ``filters`` channels is followed by three hierarchical patch
    convolutions: on an ``8 x 8`` grid of its output (``filters / 2`` channels), on a
    ``4 x 4`` grid of that result (``filters / 4``) and on a ``2 x 2`` grid of that one
    (``filters / 4``). Every patch has its own BatchNorm -> ReLU -> ``3 x 3`` convolution
    (zero padding at the patch border). The three outputs are concatenated (``filters``
    channels), added to the first convolution's output, and passed through BatchNorm and
    ReLU (JAA-Net's released code places BN -> ReLU before each patch convolution and after the
    sum, as here; the first convolution's bias is left out since every path from it ends in a
    BatchNorm that cancels it). Each level sees a larger region than the one before, so the
    block covers AUs of several sizes with about half the parameters of DRML's region layer.

    The grids are vectorised like ``RegionLayer``'s (channel groups, one grouped
    convolution per level), so the graph does not grow with the grid sizes.

    Args:
        filters: int, number of output channels ``C``; must be divisible by 4.
        grid_sizes: three positive ints, the grids of the three hierarchical patch
            convolutions. Defaults to ``(8, 4, 2)``.
        momentum: float, momentum of every BatchNorm. Defaults to ``0.99``.
        epsilon: float, variance epsilon of every BatchNorm. Defaults to ``1e-3``.
        kernel_initializer: initializer of all kernels; variance-scaling initializers use the
            fans of one patch's kernel. Defaults to ``"glorot_uniform"``.
        bias_initializer: initializer of all biases. Defaults to ``"zeros"``.
        kernel_regularizer: optional regularizer of all kernels.
        bias_regularizer: optional regularizer of all biases.
        **kwargs: base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: float tensor of shape ``(batch, height, width, channels)``; ``height`` and
            ``width`` must be known and divisible by every grid size.
        training: bool, whether the BatchNorms use batch statistics (and update their
            moving averages) or their moving averages.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, height, width, filters)``.

    Example:

    >>> import numpy as np
    >>> import tfau
    >>> block = tfau.layers.HierarchicalMultiScaleRegion(filters=8, grid_sizes=(4, 2, 1))
    >>> block(np.zeros((2, 16, 16, 3), "float32")).shape
    TensorShape([2, 16, 16, 8])

    Reference:
        Z. Shao, Z. Liu, J. Cai, L. Ma. Deep Adaptive Attention for Joint Facial Action Unit
        Detection and Face Alignment. ECCV 2018, section 3.1 and Fig. 2(a).
    """

    def __init__(
        self,
        filters: int,
        grid_sizes: Sequence[int] = (8, 4, 2),
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _patches.check_positive_int(filters, "filters")
        if filters % 4:
            raise ValueError(
                "`filters` must be divisible by 4 (the levels have filters/2, filters/4 and "
                f"filters/4 channels). Received: filters={filters}"
            )
        self.filters = filters
        if (
            isinstance(grid_sizes, str)
            or not isinstance(grid_sizes, Sequence)
            or len(grid_sizes) != 3
            or not all(
                isinstance(g, int) and not isinstance(g, bool) and g >= 1 for g in grid_sizes
            )
        ):
            raise ValueError(
                "`grid_sizes` must be three positive integers, one per hierarchical level. "
                f"Received: grid_sizes={grid_sizes!r}"
            )
        self.grid_sizes = tuple(grid_sizes)
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        for grid_size in self.grid_sizes:
            _patches.check_grid_divides(type(self).__name__, grid_size, input_shape)

        def common():
            # Fresh initializer instances: an unseeded Keras initializer draws the same values
            # on every call, so sharing one instance would correlate the levels' kernels.
            return {
                "kernel_initializer": _patches.clone_initializer(self.kernel_initializer),
                "bias_initializer": _patches.clone_initializer(self.bias_initializer),
                "kernel_regularizer": self.kernel_regularizer,
                "bias_regularizer": self.bias_regularizer,
                "dtype": self.dtype_policy,
            }

        # No bias: a per-channel constant is cancelled by the per-patch BatchNorms and by the
        # final BatchNorm, so its gradient is always zero (the authors' code keeps a dead one).
        self.conv = keras.layers.Conv2D(
            self.filters, 3, padding="same", use_bias=False, name="conv", **common()
        )
        self.conv.build(input_shape)
        shape = self.conv.compute_output_shape(input_shape)
        self.patch_convolutions = []
        level_filters = (self.filters // 2, self.filters // 4, self.filters // 4)
        levels = zip(self.grid_sizes, level_filters, strict=True)
        for level, (grid_size, filters) in enumerate(levels):
            patch_convolution = _patches.PatchConvolution(
                grid_size=grid_size,
                filters=filters,
                kernel_size=3,
                momentum=self.momentum,
                epsilon=self.epsilon,
                name=f"patch_convolution_{level + 1}",
                **common(),
            )
            patch_convolution.build(shape)
            shape = patch_convolution.compute_output_shape(shape)
            self.patch_convolutions.append(patch_convolution)
        self.batch_norm = _patches.FusedBatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=self.dtype_policy,
            name="batch_norm",
        )
        self.batch_norm.build((*input_shape[:-1], self.filters))

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        levels = []
        level = x
        for patch_convolution in self.patch_convolutions:
            level = patch_convolution(level, training=training)
            levels.append(level)
        x = x + ops.concatenate(levels, axis=-1)
        return ops.relu(self.batch_norm(x, training=training))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "grid_sizes": self.grid_sizes,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
