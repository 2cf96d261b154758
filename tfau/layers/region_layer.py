"""DRML's region layer: per-patch BatchNorm -> ReLU -> convolution plus an identity."""

import keras

from tfau.layers import _patches


@keras.saving.register_keras_serializable(package="tfau")
class RegionLayer(keras.layers.Layer):
    """Region layer of DRML: one small residual convolution per facial region.

    The input map is cut into a ``grid_size x grid_size`` grid of equal patches. Every patch
    has its own BatchNorm -> ReLU -> ``kernel_size x kernel_size`` convolution (same channel
    count, zero padding at the patch border, so a patch never sees its neighbours); the
    convolved patches are stitched back and added to the input. Weights are thus shared
    within a facial region only: a middle ground between a convolution (shared everywhere)
    and a locally connected layer (shared nowhere).

    The grid is vectorised: the patches become channel groups of one BatchNorm and one
    grouped convolution, so the graph does not grow with ``grid_size``. Its training step
    costs about 1.2x a plain BatchNorm + ReLU + conv of the same shape on a CPU and about a
    third of a per-patch loop (``experiments/benchmarks/region_layers.py``). Gradients come
    from oneDNN or cuDNN; where TensorFlow has none for grouped convolutions (a CPU with
    ``TF_ENABLE_ONEDNN_OPTS=0``) the layer computes them itself.

    Args:
        grid_size: int, number of patches along each side. Defaults to ``8`` (DRML's
            ``8 x 8`` grid of ``20 x 20`` patches on a ``160 x 160`` map).
        kernel_size: odd int, side of each patch's convolution kernel. Defaults to ``3``.
        momentum: float, momentum of the per-patch BatchNorm moving statistics. Defaults to
            ``0.99``.
        epsilon: float, variance epsilon of the per-patch BatchNorm. Defaults to ``1e-3``.
        kernel_initializer: initializer of the per-patch kernels; variance-scaling
            initializers use the fans of one patch's kernel. Defaults to
            ``"glorot_uniform"``.
        bias_initializer: initializer of the per-patch biases. Defaults to ``"zeros"``.
        kernel_regularizer: optional regularizer of the kernels (e.g. DRML's weight decay).
        bias_regularizer: optional regularizer of the biases.
        **kwargs: base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: float tensor of shape ``(batch, height, width, channels)``; ``height`` and
            ``width`` must be known and divisible by ``grid_size``.
        training: bool, whether the BatchNorms use batch statistics (and update their
            moving averages) or their moving averages.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, height, width, channels)``.

    Example:

    >>> import numpy as np
    >>> import tfau
    >>> layer = tfau.layers.RegionLayer(grid_size=4)
    >>> layer(np.zeros((2, 16, 16, 8), "float32")).shape
    TensorShape([2, 16, 16, 8])
    >>> layer.count_params()  # 16 patches x (3*3*8*8 + 8 kernel/bias + 4*8 BatchNorm)
    9856

    Reference:
        K. Zhao, W.-S. Chu, H. Zhang. Deep Region and Multi-label Learning for Facial Action
        Unit Detection. CVPR 2016, section 3.2 and Fig. 3.
    """

    def __init__(
        self,
        grid_size: int = 8,
        kernel_size: int = 3,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.grid_size = _patches.check_positive_int(grid_size, "grid_size")
        self.kernel_size = _patches.check_odd_kernel_size(kernel_size)
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        _patches.check_grid_divides(type(self).__name__, self.grid_size, input_shape)
        self.patch_convolution = _patches.PatchConvolution(
            grid_size=self.grid_size,
            filters=input_shape[-1],
            kernel_size=self.kernel_size,
            momentum=self.momentum,
            epsilon=self.epsilon,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy,
            name="patch_convolution",
        )
        self.patch_convolution.build(input_shape)

    def call(self, inputs, training=None):
        return inputs + self.patch_convolution(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "grid_size": self.grid_size,
                "kernel_size": self.kernel_size,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
