"""JAA-Net's local AU feature learning: one attention-weighted CNN branch per AU, summed."""

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import ops

from tfau.layers import _patches

_IMPLEMENTATIONS = ("per_au", "grouped")
_REDUCTIONS = ("sum", "mean")


# Padding 1 on each side (Caffe's pad 1) for every stride. Stride 1 uses "SAME" (identical for
# a 3 x 3 kernel): TensorFlow has no CPU gradient for grouped convolutions with explicit
# padding, and "SAME" with stride 2 would pad only after the map.
def _pad(x, stride: int):
    return x if stride == 1 else tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])


def _padding(stride: int) -> str:
    return "SAME" if stride == 1 else "VALID"


def _check_positive_ints(values, name: str) -> tuple[int, ...]:
    if (
        isinstance(values, str)
        or not isinstance(values, Sequence)
        or not values
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values)
    ):
        raise ValueError(
            f"`{name}` must be a non-empty sequence of positive integers. "
            f"Received: {name}={values!r}"
        )
    return tuple(values)


def branch_output_size(size: int, num_stages: int, first_stride: int = 1) -> int:
    """Side of a branch's output for a ``size`` input: first convolution, then 2x2 pools.

    Args:
        size: side of the (square) feature map entering the branches.
        num_stages: number of ``[convolutions, max-pool]`` stages.
        first_stride: stride of the branch's first convolution (padding 1 on each side).

    Returns:
        The output side (``<= 0`` when the input is too small).
    """
    size = (size - 1) // first_stride + 1
    for _ in range(num_stages):
        size //= 2
    return size


@keras.saving.register_keras_serializable(package="tfau")
class LocalAUBranches(keras.layers.Layer):
    """Local AU feature learning of JAA-Net: a CNN branch per AU on attention-weighted features.

    For AU ``i``, the shared features are multiplied by that AU's (refined) attention map and
    go through ``len(filters)`` stages of ``convs_per_stage`` x [3 x 3 convolution ->
    BatchNorm -> ReLU] and a 2 x 2 max-pool; the outputs of all AUs are summed (the paper's
    Fig. 3) or averaged (the authors' released code, ``reduction="mean"``). Every AU has
    its own weights (e.g. 12 branches of 64 -> 96, 96 -> 128, 128 -> 160 channels in JAA-Net).

    The weights of all AUs are stored together, grouped by AU along the output channels
    (channel ``i * f + j`` is unit ``j`` of AU ``i``), BatchNorm weights included (one
    normalisation per channel, i.e. per AU). Two implementations compute the same function
    from the same weights:

    - ``"per_au"``: each AU's branch runs on its own tensors, one native convolution per AU
      (the weights split into per-AU pieces) and its own fused BatchNorm. On a CPU this is
      the faster one: TensorFlow's grouped convolutions (oneDNN) are not faster here.
    - ``"grouped"``: the attention-weighted features of all AUs stacked along the channels and
      each convolution run as one native grouped ``tf.nn.conv2d`` (not
      ``Conv2D(groups=...)``, which Keras routes through XLA). The graph does not grow with
      the number of AUs.

    Args:
        filters: channels of each stage. Defaults to ``(96, 128, 160)`` (JAA-Net, c = 8).
        convs_per_stage: convolutions before each max-pool. Defaults to ``2``.
        first_stride: stride of each branch's first convolution. Defaults to ``1`` (the
            paper: every convolution is 3 x 3 / 1 / 1); the authors' released Caffe model
            uses ``2``.
        implementation: ``"per_au"`` or ``"grouped"``, see above. Defaults to ``"per_au"``.
        reduction: ``"sum"`` or ``"mean"`` over the AU branches. Defaults to ``"sum"``.
        momentum: momentum of the BatchNorm moving statistics (updated in training calls, as
            Keras' BatchNormalization). Defaults to ``0.99``.
        epsilon: BatchNorm variance epsilon. Defaults to ``1e-3``.
        kernel_initializer: initializer of each AU's kernels; variance-scaling initializers
            use the fans of one AU's kernel. Defaults to ``"he_normal"``.
        bias_initializer: initializer of the biases. Defaults to ``"zeros"``.
        kernel_regularizer: optional regularizer of the kernels (e.g. weight decay).
        bias_regularizer: optional regularizer of the biases.
        **kwargs: base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: a pair ``(features, maps)``: ``features`` of shape
            ``(batch, height, width, channels)`` and ``maps`` of shape
            ``(batch, height, width, num_aus)``, the attention map of each AU.
        training: bool, whether the BatchNorms use batch statistics.

    Output shape:
        ``(batch, h, w, filters[-1])`` with ``h = branch_output_size(height, len(filters),
        first_stride)`` (5 for JAA-Net's 44 x 44 maps), the sum over AUs.

    Example:

    >>> import numpy as np
    >>> from tfau.layers.local_au_branches import LocalAUBranches
    >>> features = np.ones((2, 12, 12, 4), "float32")
    >>> maps = np.ones((2, 12, 12, 3), "float32")
    >>> LocalAUBranches(filters=(6, 8, 10))([features, maps]).shape
    TensorShape([2, 1, 1, 10])

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3.3 and Fig. 3.
    """

    def __init__(
        self,
        filters: Sequence[int] = (96, 128, 160),
        convs_per_stage: int = 2,
        first_stride: int = 1,
        implementation: str = "per_au",
        reduction: str = "sum",
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        kernel_initializer="he_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = _check_positive_ints(filters, "filters")
        self.convs_per_stage = _patches.check_positive_int(convs_per_stage, "convs_per_stage")
        self.first_stride = _patches.check_positive_int(first_stride, "first_stride")
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {_IMPLEMENTATIONS}. "
                f"Received: implementation={implementation!r}"
            )
        self.implementation = implementation
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"`reduction` must be one of {_REDUCTIONS}. Received: reduction={reduction!r}"
            )
        self.reduction = reduction
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if (
            not isinstance(input_shape, list | tuple)
            or len(input_shape) != 2
            or any(not isinstance(s, list | tuple) or len(s) != 4 for s in input_shape)
        ):
            raise ValueError(
                "`LocalAUBranches` expects two 4D inputs (features, maps). "
                f"Received: input_shape={input_shape!r}"
            )
        features_shape, maps_shape = (tuple(s) for s in input_shape)
        channels, num_aus = features_shape[-1], maps_shape[-1]
        if channels is None or num_aus is None:
            raise ValueError(
                "The feature channels and the number of AUs must be known. "
                f"Received: features shape={features_shape}, maps shape={maps_shape}"
            )
        if features_shape[1:3] != maps_shape[1:3]:
            raise ValueError(
                "The attention maps must have the features' height and width. "
                f"Received: features shape={features_shape}, maps shape={maps_shape}"
            )
        for extent in features_shape[1:3]:
            if extent is not None and (
                branch_output_size(extent, len(self.filters), self.first_stride) < 1
            ):
                raise ValueError(
                    f"The feature maps are too small for {len(self.filters)} max-pools after a "
                    f"stride-{self.first_stride} convolution. Received: features "
                    f"shape={features_shape}"
                )
        self.num_aus = num_aus
        self.kernels, self.biases = [], []
        self.gammas, self.betas, self.moving_means, self.moving_variances = [], [], [], []
        in_per_au = channels
        index = 0
        for filters in self.filters:
            for _ in range(self.convs_per_stage):
                index += 1
                unit_shape = (3, 3, in_per_au, filters)
                units = num_aus * filters
                self.kernels.append(
                    self.add_weight(
                        name=f"kernel_{index}",
                        shape=(3, 3, in_per_au, units),
                        initializer=_patches.per_unit_initializer(
                            _patches.clone_initializer(self.kernel_initializer), unit_shape
                        ),
                        regularizer=self.kernel_regularizer,
                    )
                )
                self.biases.append(
                    self.add_weight(
                        name=f"bias_{index}",
                        shape=(units,),
                        initializer=self.bias_initializer,
                        regularizer=self.bias_regularizer,
                    )
                )
                # BatchNorm weights of all AUs, one entry per channel (per AU and unit).
                for weights, weight_name, initializer, trainable in (
                    (self.gammas, "gamma", "ones", True),
                    (self.betas, "beta", "zeros", True),
                    (self.moving_means, "moving_mean", "zeros", False),
                    (self.moving_variances, "moving_variance", "ones", False),
                ):
                    weights.append(
                        self.add_weight(
                            name=f"{weight_name}_{index}",
                            shape=(units,),
                            initializer=initializer,
                            trainable=trainable,
                            autocast=False,
                        )
                    )
                in_per_au = filters

    def _conv_bn_relu(self, branches, index, stride, training):
        """Convolution ``index`` -> BatchNorm -> ReLU of every branch.

        The weights are split into one piece per branch with one ``Split`` each (its gradient
        is one concatenation; slicing per branch would pad each slice's gradient to the whole
        variable and sum them). In training the BatchNorm is the fused op on the batch
        statistics (moving averages updated as Keras'); in inference it is folded into the
        convolution's kernel and bias (`_patches.fold_batch_norm`), so that convolution, bias
        and ReLU run as one fused op.
        """

        def pieces(weight):
            return tf.split(weight, len(branches), axis=-1) if len(branches) > 1 else [weight]

        dtype = branches[0].dtype
        kernel, bias = ops.cast(self.kernels[index], dtype), self.biases[index]
        if not training:
            kernel, bias = _patches.fold_batch_norm(
                kernel,
                bias,
                self.gammas[index],
                self.betas[index],
                self.moving_means[index],
                self.moving_variances[index],
                self.epsilon,
            )
        else:
            gammas, betas = pieces(self.gammas[index]), pieces(self.betas[index])
        biases = pieces(ops.cast(bias, dtype))
        # BiasAdd fuses with Conv2D; a grouped Conv2D (oneDNN) keeps a plain add, see
        # _patches.grouped_conv2d.
        add_bias = tf.nn.bias_add if self.implementation == "per_au" else ops.add
        outputs, statistics = [], []
        for branch, (x, piece) in enumerate(zip(branches, pieces(kernel), strict=True)):
            x = _patches.grouped_conv2d_any(_pad(x, stride), piece, stride, _padding(stride))
            x = add_bias(x, biases[branch])
            if training:
                x, mean, variance = _patches.fused_batch_norm(
                    ops.cast(x, "float32"), gammas[branch], betas[branch], self.epsilon
                )
                statistics.append((mean, variance))
                x = ops.cast(x, dtype)
            outputs.append(ops.relu(x))
        if training:
            _patches.update_moving_statistics(
                self.moving_means[index],
                self.moving_variances[index],
                ops.concatenate([mean for mean, _ in statistics], axis=0),
                ops.concatenate([variance for _, variance in statistics], axis=0),
                self.momentum,
            )
        return outputs

    def call(self, inputs, training=None):
        features, maps = inputs
        maps = ops.cast(maps, features.dtype)
        training = bool(training) and self.trainable
        if self.implementation == "per_au":
            # Each AU's branch runs on its own tensors: no concatenation between stages.
            branches = [features * au_map for au_map in tf.split(maps, self.num_aus, axis=-1)]
        else:
            # (B, H, W, 1, C) * (B, H, W, A, 1) -> AU-major channels, the grouped layout.
            weighted = features[..., None, :] * maps[..., :, None]
            height, width = ops.shape(features)[1], ops.shape(features)[2]
            branches = [
                ops.reshape(weighted, (-1, height, width, self.num_aus * features.shape[-1]))
            ]
        index = 0
        for _ in self.filters:
            for _ in range(self.convs_per_stage):
                stride = self.first_stride if index == 0 else 1
                branches = self._conv_bn_relu(branches, index, stride, training)
                index += 1
            branches = [ops.max_pool(x, 2, strides=2, padding="valid") for x in branches]
        if self.implementation == "per_au":
            total = tf.add_n(branches)
            return total if self.reduction == "sum" else total / self.num_aus
        reduce = ops.sum if self.reduction == "sum" else ops.mean
        x = branches[0]
        out_height, out_width = ops.shape(x)[1], ops.shape(x)[2]
        per_au = ops.reshape(x, (-1, out_height, out_width, self.num_aus, self.filters[-1]))
        return reduce(per_au, axis=3)

    def compute_output_shape(self, input_shape):
        features_shape = tuple(input_shape[0])
        batch, height, width = features_shape[:3]

        def side(extent):
            if extent is None:
                return None
            return branch_output_size(extent, len(self.filters), self.first_stride)

        return (batch, side(height), side(width), self.filters[-1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "filters": list(self.filters),
                "convs_per_stage": self.convs_per_stage,
                "first_stride": self.first_stride,
                "implementation": self.implementation,
                "reduction": self.reduction,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config
