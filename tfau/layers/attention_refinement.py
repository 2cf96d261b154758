"""JAA-Net's AU attention refinement: a small unpadded CNN per AU map, all AUs in one op."""

import keras
import tensorflow as tf
from keras import ops

from tfau.layers import _patches

_KERNEL = 3
_NUM_CONVS = 4
# Each unpadded 3 x 3 convolution removes one cell on every side.
_SHRINK = _NUM_CONVS * (_KERNEL - 1)
_IMPLEMENTATIONS = ("per_au", "grouped")


@keras.saving.register_keras_serializable(package="tfau")
class AttentionRefinement(keras.layers.Layer):
    """Refines each AU's initial attention map with its own small CNN (JAA-Net).

    JAA-Net initialises one attention map per AU from the predicted landmarks and refines it
    adaptively: per AU, four unpadded 3 x 3 convolutions ``1 -> width -> width -> width -> 1``
    and a sigmoid. The map shrinks by 8 (the paper first zooms the ``l/4`` map to ``l/4 + 8``,
    e.g. 52 x 52 -> 44 x 44 for ``l = 176``, so the refined map matches ``l/4``). The first
    three convolutions are followed by batch normalisation and ReLU (as everywhere in
    JAA-Net and in the authors' released code; ``use_batch_norm=False`` leaves it out).
    Convolutions followed by batch normalisation have no bias (it would be cancelled).

    Every AU has its own weights, stored as grouped kernels (one group per AU). Two
    implementations compute the same function from the same weights: ``"per_au"`` runs the
    first convolution (one input channel per AU) as one depthwise convolution and the others
    as one native convolution per AU (kernel slices); ``"grouped"`` runs each as one native
    grouped ``tf.nn.conv2d`` (a filter whose input depth is a fraction of the input's
    channels). Neither goes through ``keras.layers.Conv2D(groups=...)``, which Keras routes
    through XLA on the TensorFlow backend and trains about 170x slower on CPU. Channel
    ``a * width + j`` of a hidden activation is unit ``j`` of AU ``a``; the per-channel
    batch normalisation is therefore exactly a separate normalisation per AU.

    The refinement loss (eq. 4) is a sigmoid cross-entropy between refined and initial maps;
    ``return_logits=True`` also returns the pre-sigmoid logits for a numerically stable loss.

    Args:
        width: positive int, the channels of the three hidden convolutions per AU.
            Defaults to ``64`` (JAA-Net).
        use_batch_norm: bool, batch normalisation after the hidden convolutions.
            Defaults to ``True``.
        return_logits: bool, return ``(refined_maps, logits)`` instead of ``refined_maps``.
            Defaults to ``False``.
        implementation: ``"per_au"`` or ``"grouped"``, see above (same weights and
            outputs). Defaults to ``"per_au"``, which trained slightly faster on a 2-core CPU
            (``experiments/benchmarks/results/models.md``).
        kernel_initializer: initializer for the convolution kernels. It sees the grouped
            kernel shape ``(3, 3, in_per_au, num_aus * out_per_au)``, so fan-in based
            initializers (the default) are exactly per AU, while fan-out based ones would see
            ``num_aus`` times the true fan-out. Defaults to ``"he_normal"``.
        bias_initializer: initializer for the convolution biases. Defaults to ``"zeros"``.
        momentum: momentum of the batch normalisations' moving statistics. Defaults to
            ``0.99`` (Keras).
        epsilon: variance epsilon of the batch normalisations. Defaults to ``1e-3`` (Keras;
            PyTorch and Caffe use ``1e-5``).
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, height, width, num_aus)`` initial attention maps, one channel per
            AU; ``height`` and ``width`` at least 9.
        training: bool, batch normalisation mode (set by Keras in ``fit``).

    Output shape:
        ``(batch, height - 8, width - 8, num_aus)`` refined maps in ``[0, 1]``; with
        ``return_logits=True`` the tuple ``(refined_maps, logits)`` of two such tensors.

    Example:

    ```python
    import numpy as np
    from tfau.layers import AttentionRefinement

    initial_maps = np.random.rand(2, 52, 52, 12).astype("float32")  # 12 AUs
    refined, logits = AttentionRefinement(width=64, return_logits=True)(initial_maps)
    print(refined.shape, logits.shape)  # (2, 44, 44, 12) (2, 44, 44, 12)
    ```

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3.3.
    """

    def __init__(
        self,
        width: int = 64,
        use_batch_norm: bool = True,
        return_logits: bool = False,
        implementation: str = "per_au",
        kernel_initializer="he_normal",
        bias_initializer="zeros",
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"`width` must be a positive integer. Received: width={width!r}")
        for arg_name, value in (
            ("use_batch_norm", use_batch_norm),
            ("return_logits", return_logits),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{arg_name}` must be a bool. Received: {arg_name}={value!r}")
        self.width = width
        self.use_batch_norm = use_batch_norm
        self.return_logits = return_logits
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {_IMPLEMENTATIONS}. "
                f"Received: implementation={implementation!r}"
            )
        self.implementation = implementation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "The input must be (batch, height, width, num_aus). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        num_aus = input_shape[-1]
        if num_aus is None:
            raise ValueError(
                "The number of AUs (last input axis) must be known when the layer is built. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        for axis_name, extent in (("height", input_shape[1]), ("width", input_shape[2])):
            if extent is not None and extent <= _SHRINK:
                raise ValueError(
                    f"The map {axis_name} must be at least {_SHRINK + 1}: four unpadded 3x3 "
                    f"convolutions remove {_SHRINK} cells. Received: {axis_name}={extent}"
                )
        self.num_aus = num_aus
        depths = [1] + [self.width] * (_NUM_CONVS - 1) + [1]
        self.kernels, self.biases, self.batch_norms = [], [], []
        for index in range(_NUM_CONVS):
            in_per_au, out_per_au = depths[index], depths[index + 1]
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{index + 1}",
                    shape=(_KERNEL, _KERNEL, in_per_au, num_aus * out_per_au),
                    initializer=self.kernel_initializer,
                )
            )
            normalised = self.use_batch_norm and index < _NUM_CONVS - 1
            # A bias in front of batch normalisation is cancelled by it: leave it out.
            self.biases.append(
                None
                if normalised
                else self.add_weight(
                    name=f"bias_{index + 1}",
                    shape=(num_aus * out_per_au,),
                    initializer=self.bias_initializer,
                )
            )
            if normalised:
                batch_norm = keras.layers.BatchNormalization(
                    momentum=self.momentum,
                    epsilon=self.epsilon,
                    name=f"batch_norm_{index + 1}",
                    dtype=self.dtype_policy,
                )
                batch_norm.build((None, None, None, num_aus * out_per_au))
                self.batch_norms.append(batch_norm)

    def _layer(self, branches, index, training):
        """Convolution ``index`` (+ BatchNorm) (+ ReLU) of every branch (one per AU, or one
        holding all AUs' channels).

        The weights are split into one piece per branch with one ``Split`` each (one
        concatenation in the gradient). The BatchNorm, on the BatchNormalization sublayer's
        own weights, is the fused op on the batch statistics in training (same moving-average
        updates as the sublayer's); in inference it is folded into the convolution's kernel
        and bias (`_patches.fold_batch_norm`), so that convolution, bias and ReLU run as one
        fused op.
        """

        def pieces(weight):
            return tf.split(weight, len(branches), axis=-1) if len(branches) > 1 else [weight]

        batch_norm = None
        if self.use_batch_norm and index < _NUM_CONVS - 1:
            batch_norm = self.batch_norms[index]
        normalize = batch_norm is not None and bool(training) and batch_norm.trainable
        dtype = branches[0].dtype
        kernel = ops.cast(self.kernels[index], dtype)
        bias = self.biases[index]
        if batch_norm is not None and not normalize:
            kernel, bias = _patches.fold_batch_norm(
                kernel,
                bias,
                batch_norm.gamma,
                batch_norm.beta,
                batch_norm.moving_mean,
                batch_norm.moving_variance,
                batch_norm.epsilon,
            )
        if index == 0 and self.implementation == "per_au":
            # One input channel per AU: one depthwise convolution for all AUs.
            kernel = ops.reshape(kernel, (_KERNEL, _KERNEL, self.num_aus, -1))
            outputs = [tf.nn.depthwise_conv2d(branches[0], kernel, (1, 1, 1, 1), "VALID")]
        else:
            # "grouped": the kernel's input depth (1 or `width`) is a fraction of the input's
            # channels, so TensorFlow runs one group per AU.
            outputs = [
                _patches.grouped_conv2d_any(x, k, 1, "VALID")
                for x, k in zip(branches, pieces(kernel), strict=True)
            ]
        if bias is not None:
            # BiasAdd fuses with the convolution; a grouped Conv2D (oneDNN) keeps a plain add,
            # see _patches.grouped_conv2d.
            add = tf.nn.bias_add if self.implementation == "per_au" else ops.add
            biases = pieces(ops.cast(bias, dtype))
            outputs = [add(x, b) for x, b in zip(outputs, biases, strict=True)]
        if normalize:
            gammas, betas = pieces(batch_norm.gamma), pieces(batch_norm.beta)
            statistics = []
            for branch, x in enumerate(outputs):
                x, mean, variance = _patches.fused_batch_norm(
                    ops.cast(x, "float32"), gammas[branch], betas[branch], batch_norm.epsilon
                )
                statistics.append((mean, variance))
                outputs[branch] = ops.cast(x, dtype)
            _patches.update_moving_statistics(
                batch_norm.moving_mean,
                batch_norm.moving_variance,
                ops.concatenate([mean for mean, _ in statistics], axis=0),
                ops.concatenate([variance for _, variance in statistics], axis=0),
                batch_norm.momentum,
            )
        if index < _NUM_CONVS - 1:
            outputs = [ops.relu(x) for x in outputs]
        return outputs

    def call(self, inputs, training=None):
        branches = [inputs]
        for index in range(_NUM_CONVS):
            branches = self._layer(branches, index, training)
            if index == 0 and self.implementation == "per_au":
                # Each AU's branch runs on its own tensors: no concatenation between layers.
                branches = tf.split(branches[0], self.num_aus, axis=-1)
        logits = ops.concatenate(branches, axis=-1) if len(branches) > 1 else branches[0]
        refined = ops.sigmoid(logits)
        if self.return_logits:
            return refined, logits
        return refined

    def compute_output_shape(self, input_shape):
        batch, height, width, num_aus = input_shape
        shape = (
            batch,
            None if height is None else height - _SHRINK,
            None if width is None else width - _SHRINK,
            num_aus,
        )
        if self.return_logits:
            return shape, shape
        return shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "width": self.width,
                "use_batch_norm": self.use_batch_norm,
                "return_logits": self.return_logits,
                "implementation": self.implementation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }
        )
        return config
