"""Grid and patch helpers shared by the region-learning layers (private).

The region layers give every cell of a ``grid_size x grid_size`` grid its own BatchNorm and
convolution. Instead of slicing the map into cells and running one convolution per cell (the
op count then grows with the grid, and every small op costs a dispatch and a copy), the cells
are moved into channel groups: ``(B, H, W, C) -> (B, H / g, W / g, g * g * C)``. One
BatchNorm over the ``g * g * C`` channels then holds per-cell statistics and affine
parameters, and one grouped convolution with ``SAME`` padding applies per-cell kernels with
zero padding at every cell border, because a cell's pixels never share a group with its
neighbours'.
"""

import functools
import math
import os
from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops


def check_positive_int(value: object, name: str) -> int:
    """Returns ``value`` if it is a positive ``int``, else raises a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def check_odd_kernel_size(kernel_size: object) -> int:
    """Returns ``kernel_size`` if it is a positive odd ``int`` (symmetric zero padding)."""
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, int)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            "`kernel_size` must be a positive odd integer, so that the zero padding at the "
            f"patch borders is symmetric. Received: kernel_size={kernel_size!r}"
        )
    return kernel_size


def check_grid_divides(
    layer_name: str, grid_size: int, input_shape: Sequence[int | None]
) -> tuple[int, int]:
    """Checks a channels-last 4D shape for a ``grid_size`` grid; returns ``(height, width)``."""
    if len(input_shape) != 4:
        raise ValueError(
            f"{layer_name} expects a 4D input (batch, height, width, channels). "
            f"Received: input_shape={tuple(input_shape)}"
        )
    height, width = input_shape[1], input_shape[2]
    if height is None or width is None or input_shape[3] is None:
        raise ValueError(
            f"{layer_name} needs a known height, width and channel count to cut the map into "
            f"a grid. Received: input_shape={tuple(input_shape)}"
        )
    if height % grid_size or width % grid_size:
        raise ValueError(
            f"`grid_size` must divide the input height and width of {layer_name}. Received: "
            f"grid_size={grid_size}, height={height}, width={width}"
        )
    return height, width


def split_patches(x, grid_size: int):
    """``(B, H, W, C) -> (B, H/g, W/g, g*g*C)``; cell ``(i, j)`` becomes channel group ``i*g+j``."""
    _, height, width, channels = x.shape
    ph, pw = height // grid_size, width // grid_size
    x = ops.reshape(x, (-1, grid_size, ph, grid_size, pw, channels))
    x = ops.transpose(x, (0, 2, 4, 1, 3, 5))
    return ops.reshape(x, (-1, ph, pw, grid_size * grid_size * channels))


def merge_patches(x, grid_size: int):
    """Inverse of ``split_patches``: ``(B, H/g, W/g, g*g*C) -> (B, H, W, C)``."""
    _, ph, pw, grouped = x.shape
    channels = grouped // (grid_size * grid_size)
    x = ops.reshape(x, (-1, ph, pw, grid_size, grid_size, channels))
    x = ops.transpose(x, (0, 3, 1, 4, 2, 5))
    return ops.reshape(x, (-1, grid_size * ph, grid_size * pw, channels))


def clone_initializer(initializer: keras.initializers.Initializer):
    """A new instance with the same config (an unseeded one then draws new values)."""
    return initializer.__class__.from_config(initializer.get_config())


def _native_grouped_gradients(dtype) -> bool:
    """Whether TensorFlow can differentiate a grouped ``tf.nn.conv2d`` of ``dtype`` here.

    GPUs (cuDNN) can; CPUs only through oneDNN and in float32 (a bfloat16 one fails on an AMD
    EPYC with oneDNN on); TensorFlow's own CPU kernels cannot ("Gradients for grouped
    convolutions are not supported on CPU").
    """
    return _has_gpu() or (tf.as_dtype(dtype) == tf.float32 and _onednn_enabled())


@functools.cache
def _has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def native_filter_gradient_is_fast() -> bool:
    """Whether TensorFlow's own ``Conv2DBackpropFilter`` is as fast as ``valid_conv2d``'s
    forward-convolution form: with oneDNN (0.96-1.18x the form's time on DRML's layers, AMD
    EPYC) or a GPU; not with Eigen's CPU kernels (2.6-3x slower on DRML's 8 x 8 kernels)."""
    return _has_gpu() or _onednn_enabled()


@functools.cache
def _onednn_enabled() -> bool:
    """Whether TensorFlow runs oneDNN's CPU kernels (``TF_ENABLE_ONEDNN_OPTS``)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").lower() not in ("0", "false")


def grouped_conv2d(x, kernel, bias, native_gradient: bool | None = None):
    """Stride-1 ``SAME`` grouped convolution plus bias; ``kernel`` is ``(k, k, C, G * F)`` for
    ``G * C`` input channels, ``bias`` is ``(G * F,)``.

    With ``native_gradient=False`` (the default where TensorFlow has no grouped-convolution
    gradient, see ``_native_grouped_gradients``) the gradients are computed with ops every
    CPU has: the input gradient is a grouped forward convolution with the flipped kernel,
    the kernel gradient one plain convolution filter gradient per group.
    """
    if native_gradient is None:
        native_gradient = _native_grouped_gradients(x.dtype)
    # TF-only on purpose: tf.nn.conv2d runs a grouped convolution when the filter depth (C)
    # divides the input depth (G*C). Keras' Conv2D(groups=...) is forced through XLA on
    # TensorFlow, whose CPU filter gradient trains about 170x slower.
    if native_gradient:
        y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    else:
        y = _grouped_conv2d_portable(x, kernel)
    # A plain add, never BiasAdd: TF's graph optimizer fuses Conv2D + BiasAdd into a kernel
    # that rejects grouped convolutions on CPUs without oneDNN, and a graph traced with
    # oneDNN (e.g. a SavedModel exported by `tfau demo`) may be served without it.
    return y + ops.reshape(bias, (1, 1, 1, -1))


def grouped_conv2d_any(x, kernel, strides: int, padding: str):
    """``tf.nn.conv2d`` with a grouped ``kernel`` (input depth a fraction of ``x``'s), any
    stride and padding, differentiable on every machine.

    Where TensorFlow has no grouped-convolution gradient (CPUs without oneDNN, and dtypes
    other than float32 on CPUs with it, see ``_native_grouped_gradients``) the groups run as
    separate convolutions: the same values, one op per group.
    """
    if _native_grouped_gradients(x.dtype):
        return tf.nn.conv2d(x, kernel, strides, padding)
    groups = x.shape[-1] // kernel.shape[2]
    inputs = tf.split(x, groups, axis=-1)
    kernels = tf.split(kernel, groups, axis=-1)
    return tf.concat(
        [tf.nn.conv2d(i, k, strides, padding) for i, k in zip(inputs, kernels, strict=True)],
        axis=-1,
    )


def valid_conv2d(x, kernel, strides: int = 1):
    """``tf.nn.conv2d(x, kernel, strides, "VALID")`` whose kernel gradient is a forward
    convolution.

    The kernel gradient ``dk[i, j, c, f] = sum_{b, y, x} x[b, s y + i, s x + j, c]
    dy[b, y, x, f]`` is itself a convolution: of ``x`` with its channels as the batch and its
    batch as the channels, by ``dy`` as the kernel, dilated by the stride ``s`` (cut to the
    kernel's size where the stride leaves rows unused). Without oneDNN TensorFlow's CPU
    kernels (Eigen) run it 1.3-3x faster than ``Conv2DBackpropFilter`` on DRML's and PAttNet's
    maps; the same sums give the same gradient to float32 rounding. The input gradient is
    TensorFlow's own.
    """

    @tf.custom_gradient
    def convolution(x, kernel):
        def gradient(upstream):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x),
                filter=kernel,
                out_backprop=upstream,
                strides=[1, strides, strides, 1],
                padding="VALID",
            )
            dk = tf.nn.conv2d(
                tf.transpose(x, (3, 1, 2, 0)),
                tf.transpose(upstream, (1, 2, 0, 3)),
                1,
                "VALID",
                dilations=strides,
            )
            return dx, tf.transpose(dk, (1, 2, 0, 3))[: kernel.shape[0], : kernel.shape[1]]

        return tf.nn.conv2d(x, kernel, strides, "VALID"), gradient

    return convolution(x, kernel)


@tf.custom_gradient
def _grouped_conv2d_portable(x, kernel):
    y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")

    def grad(dy):
        k, _, channels, grouped_filters = kernel.shape
        groups = x.shape[-1] // channels
        filters = grouped_filters // groups
        # Input gradient: correlate dy with the spatially flipped kernel, in and out swapped.
        flipped = tf.reshape(kernel[::-1, ::-1], (k, k, channels, groups, filters))
        flipped = tf.reshape(tf.transpose(flipped, (0, 1, 4, 3, 2)), (k, k, filters, -1))
        dx = tf.nn.conv2d(dy, flipped, strides=1, padding="SAME")

        # Kernel gradient: one native Conv2DBackpropFilter per group, the groups moved to the
        # front and mapped over: a fixed number of ops for any group count, and 3-10x faster
        # on a CPU than a matrix product per kernel offset.
        def group_major(t, depth):
            t = tf.reshape(t, (tf.shape(t)[0], t.shape[1], t.shape[2], groups, depth))
            return tf.transpose(t, (3, 0, 1, 2, 4))

        def group_gradient(pair):
            return tf.raw_ops.Conv2DBackpropFilter(
                input=pair[0],
                filter_sizes=(k, k, channels, filters),
                out_backprop=pair[1],
                strides=[1, 1, 1, 1],
                padding="SAME",
            )

        dkernel = tf.map_fn(
            group_gradient,
            (group_major(x, channels), group_major(dy, filters)),
            fn_output_signature=kernel.dtype,
        )
        dkernel = tf.reshape(
            tf.transpose(dkernel, (1, 2, 3, 0, 4)), (k, k, channels, groups * filters)
        )
        return dx, dkernel

    return y, grad


def _fans(shape: Sequence[int]) -> tuple[int, int]:
    """Keras' convention: ``(..., fan_in_axis, fan_out_axis)`` with a receptive field prefix."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def per_unit_initializer(
    initializer: keras.initializers.Initializer,
    unit_shape: Sequence[int],
):
    """Wraps ``initializer`` so that a stack of unshared kernels gets per-kernel fans.

    A stack of ``N`` unshared kernels (one per patch or per position) is stored as one variable
    whose shape makes Keras compute fans ``N`` times too large. Variance-scaling initializers
    (Glorot, He, LeCun, ...) draw i.i.d. values, so rescaling them to the fans of a single
    kernel of shape ``unit_shape`` is exact; other initializers are used as they are.

    Args:
        initializer: a Keras initializer instance.
        unit_shape: the shape of one unshared kernel, e.g. ``(k, k, in, out)``.

    Returns:
        A callable ``(shape, dtype) -> tensor`` for ``add_weight``.
    """
    if not isinstance(initializer, keras.initializers.VarianceScaling):
        return initializer

    def _mode_fan(fans: tuple[int, int]) -> float:
        fan_in, fan_out = fans
        if initializer.mode == "fan_in":
            return fan_in
        if initializer.mode == "fan_out":
            return fan_out
        return (fan_in + fan_out) / 2.0

    def initialize(shape, dtype=None):
        scale = initializer.scale * _mode_fan(_fans(shape)) / _mode_fan(_fans(unit_shape))
        rescaled = keras.initializers.VarianceScaling(
            scale=scale,
            mode=initializer.mode,
            distribution=initializer.distribution,
            seed=initializer.seed,
        )
        return rescaled(shape, dtype=dtype)

    return initialize


def fused_batch_norm(x, gamma, beta, epsilon: float, mean=None, variance=None):
    """BatchNorm of a 4D channels-last float32 ``x`` as one TF op (``FusedBatchNormV3``).

    Keras' BatchNorm computes moments and the normalisation as separate element-wise ops
    (about 2.5x the time of the fused kernel on a CPU, forward and backward); the fused op
    runs on every CPU (Eigen, or oneDNN where TF has it) and under XLA.

    Args:
        x: ``(batch, height, width, channels)`` float32 tensor.
        gamma: ``(channels,)`` scale.
        beta: ``(channels,)`` offset.
        epsilon: variance epsilon.
        mean: moving mean for inference; ``None`` normalises with the batch statistics.
        variance: moving variance for inference (with ``mean``).

    Returns:
        ``(y, batch_mean, batch_variance)``; the batch variance is the biased one that Keras
        tracks (the op returns the Bessel-corrected one); both ``None`` in inference.
    """
    if mean is None:
        # TF-only: the fused kernel and its fused gradient.
        y, batch_mean, batch_variance = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=epsilon, is_training=True
        )
        count = math.prod(x.shape[1:-1]) * ops.cast(ops.shape(x)[0], "float32")
        batch_variance = batch_variance * ops.maximum(count - 1.0, 1.0) / ops.maximum(count, 1.0)
        return y, batch_mean, batch_variance
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, mean=mean, variance=variance, epsilon=epsilon, is_training=False
    )
    return y, None, None


def fold_batch_norm(kernel, bias, gamma, beta, mean, variance, epsilon: float):
    """A convolution followed by an inference BatchNorm as one convolution with a bias.

    ``BN(conv(x, kernel) + bias) = conv(x, kernel * s) + (bias - mean) * s + beta`` with
    ``s = gamma / sqrt(variance + epsilon)`` per output channel. Folded, the convolution, its
    bias and a following ReLU run as one fused kernel on every CPU backend. Left as a
    ``FusedBatchNormV3`` after the convolution, TensorFlow's oneDNN graph rewrite fuses the
    three into a convolution that is about 10x slower than the convolution itself at batch 1
    (JAA-Net's 3 x 3 convolutions on 44 x 44 maps: 19 ms instead of 2): JAA-Net's batch-1
    inference takes 1.30 s that way and 0.25 s folded (AMD EPYC Zen 3, oneDNN on; equal at
    batch 8-32, and with TensorFlow's own kernels at every batch).

    Args:
        kernel: ``(..., in, out)`` convolution kernel.
        bias: ``(out,)`` convolution bias, or None.
        gamma, beta, mean, variance: ``(out,)`` BatchNorm weights and moving statistics.
        epsilon: BatchNorm variance epsilon.

    Returns:
        ``(kernel, bias)`` of the folded convolution, in the kernel's dtype.
    """
    scale = ops.cast(gamma, "float32") * ops.rsqrt(ops.cast(variance, "float32") + epsilon)
    shift = ops.cast(beta, "float32") - ops.cast(mean, "float32") * scale
    if bias is not None:
        shift = shift + ops.cast(bias, "float32") * scale
    dtype = kernel.dtype
    return ops.cast(ops.cast(kernel, "float32") * scale, dtype), ops.cast(shift, dtype)


def update_moving_statistics(moving_mean, moving_variance, mean, variance, momentum: float):
    """Keras' BatchNorm update: ``moving = moving * momentum + batch * (1 - momentum)``."""
    moving_mean.assign(moving_mean * momentum + mean * (1 - momentum))
    moving_variance.assign(moving_variance * momentum + variance * (1 - momentum))


class FusedBatchNormalization(keras.layers.Layer):
    """Keras' BatchNormalization (last axis, same variables and updates) on the fused TF op.

    ``keras.layers.BatchNormalization`` computes moments and the normalisation as separate
    element-wise ops; on a CPU its training step on a ``(16, 160, 160, 32)`` map takes about
    2.5x as long as TensorFlow's fused kernel, which is memory-bound work the region layers do
    on every patch. Semantics follow Keras: the moving variance is updated with the biased
    batch variance, statistics are computed in float32 under mixed precision, and a layer
    with ``trainable=False`` runs in inference mode. Inputs are 4D, channels-last.
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer="ones", autocast=False)
        self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros", autocast=False)
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=shape, initializer="zeros", trainable=False, autocast=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=shape,
            initializer="ones",
            trainable=False,
            autocast=False,
        )

    def call(self, inputs, training=None):
        x = ops.cast(inputs, "float32")
        if training and self.trainable:
            y, mean, variance = fused_batch_norm(x, self.gamma, self.beta, self.epsilon)
            update_moving_statistics(
                self.moving_mean, self.moving_variance, mean, variance, self.momentum
            )
        else:
            y, _, _ = fused_batch_norm(
                x, self.gamma, self.beta, self.epsilon, self.moving_mean, self.moving_variance
            )
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


class PatchConvolution(keras.layers.Layer):
    """Per-cell BatchNorm -> ReLU -> ``k x k`` convolution on a ``grid_size`` grid (private).

    Every cell of the grid has its own BatchNorm statistics and affine parameters and its own
    kernel and bias; the convolution zero-pads each cell at its border. Input and output are
    channels-last maps ``(B, H, W, C) -> (B, H, W, filters)``; the whole grid costs a fixed
    number of ops (two transposes, one BatchNorm, one grouped convolution).

    Weights: ``kernel`` of shape ``(k, k, C, g*g*filters)`` (output group ``i*g + j`` is the
    kernel of cell ``(i, j)``), ``bias`` of shape ``(g*g*filters,)``, and the BatchNorm's
    ``gamma``/``beta``/moving statistics of shape ``(g*g*C,)`` (cell-major, channel-minor).
    """

    def __init__(
        self,
        grid_size: int,
        filters: int,
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
        self.grid_size = grid_size
        self.filters = filters
        self.kernel_size = kernel_size
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        cells = self.grid_size * self.grid_size
        grouped_shape = (
            input_shape[0],
            input_shape[1] // self.grid_size,
            input_shape[2] // self.grid_size,
            cells * channels,
        )
        self.batch_norm = FusedBatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=self.dtype_policy,
            name="batch_norm",
        )
        self.batch_norm.build(grouped_shape)
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, channels, cells * self.filters),
            initializer=per_unit_initializer(
                self.kernel_initializer, (k, k, channels, self.filters)
            ),
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(cells * self.filters,),
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
        )

    def call(self, inputs, training=None):
        x = split_patches(inputs, self.grid_size)
        x = self.batch_norm(x, training=training)
        x = ops.relu(x)
        x = grouped_conv2d(x, ops.cast(self.kernel, x.dtype), ops.cast(self.bias, x.dtype))
        return merge_patches(x, self.grid_size)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)
