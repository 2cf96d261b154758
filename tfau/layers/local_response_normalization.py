"""Local response normalisation across channels (DRML, Caffe) or over space (EAC-Net eq. 2)."""

from numbers import Real

import keras
import numpy as np
from keras import ops

_MODES = ("channel", "spatial")
_ALPHA_SCALINGS = ("mean", "sum")
# Each paper's own convention, used when `alpha_scaling=None`.
_DEFAULT_ALPHA_SCALING = {"channel": "mean", "spatial": "sum"}


@keras.saving.register_keras_serializable(package="tfau")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalisation over a window of channels or of spatial neighbours.

    Every value is divided by a power of the energy of its neighbourhood:

        y = x / (bias + a * S) ** beta,    S = sum of x_j ** 2 over the window around x,

    where the window is zero-padded at the borders and ``a`` is either ``alpha`` or
    ``alpha / n`` with ``n`` the number of cells in the window (see `alpha_scaling`).

    - ``mode="channel"``: the window is ``size`` consecutive channels centred on the
      channel of ``x`` (``size`` odd). This is Caffe's ``ACROSS_CHANNELS`` LRN, which DRML
      applies after its region layer as ``LRN(local_size=5, alpha=1e-4, beta=0.75)`` with
      Caffe's ``k = 1``. Caffe divides ``alpha`` by ``size``: ``alpha_scaling="mean"``.
    - ``mode="spatial"``: the window is the ``size x size`` spatial neighbourhood of ``x``
      in its own channel. EAC-Net (eq. 2) normalises the group-4 output this way with
      ``k = 2, alpha = 0.002, beta = 0.75`` over the 9 neighbouring pixels, with ``alpha``
      multiplying the plain sum: ``alpha_scaling="sum"``.

    ``tf.nn.local_response_normalization(x, depth_radius, bias, alpha, beta)`` is this layer
    with ``mode="channel"``, ``size = 2 * depth_radius + 1`` and ``alpha_scaling="sum"``; to
    reproduce a Caffe model with it one has to pass ``alpha / size``. This layer takes the
    papers' numbers as written. The normalisation is computed in float32 whatever the dtype
    policy (squared activations overflow float16 easily), and cast back to the compute dtype.

    Args:
        size: odd positive int, the window size: channels in ``"channel"`` mode, pixels per
            side in ``"spatial"`` mode. Defaults to ``5`` (DRML).
        alpha: non-negative float, the scaling parameter. Defaults to ``1e-4`` (DRML).
        beta: non-negative float, the exponent. Defaults to ``0.75``.
        bias: positive float, the additive constant ``k``. Defaults to ``1.0`` (Caffe).
        mode: ``"channel"`` or ``"spatial"``. Defaults to ``"channel"``.
        alpha_scaling: ``"mean"`` (``alpha`` multiplies the mean of the squares over the
            window, i.e. ``alpha / size`` or ``alpha / size**2`` times the sum, as in Caffe),
            ``"sum"`` (``alpha`` multiplies the sum, as in EAC-Net eq. 2 and TensorFlow), or
            ``None`` for each paper's convention: ``"mean"`` in ``"channel"`` mode (Caffe,
            DRML) and ``"sum"`` in ``"spatial"`` mode (EAC-Net). Defaults to ``None``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``"channel"`` mode: a tensor of rank >= 2, normalised along its last axis;
            ``"spatial"`` mode: a ``(batch, height, width, channels)`` tensor.

    Input shape:
        As above.

    Output shape:
        Same as the input.

    Example:

    ```python
    import numpy as np
    from tfau.layers import LocalResponseNormalization

    drml_lrn = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, mode="channel")
    eac_lrn = LocalResponseNormalization(
        size=3, alpha=0.002, beta=0.75, bias=2.0, mode="spatial"
    )
    x = np.random.rand(2, 28, 28, 512).astype("float32")
    print(drml_lrn(x).shape, eac_lrn(x).shape)  # (2, 28, 28, 512) (2, 28, 28, 512)
    ```

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016 (LRN after the region layer, Caffe definition).
        Li, Abtahi, Zhu and Yin, "EAC-Net: A Region-based Deep Enhancing and Cropping
        Approach for Facial Action Unit Detection", FG 2017, section III-C, eq. (2).
    """

    def __init__(
        self,
        size: int = 5,
        alpha: float = 1e-4,
        beta: float = 0.75,
        bias: float = 1.0,
        mode: str = "channel",
        alpha_scaling: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(
                "`size` must be an odd positive integer (the window is centred on each "
                f"value). Received: size={size!r}"
            )
        for arg_name, value in (("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                raise ValueError(
                    f"`{arg_name}` must be a non-negative number. Received: {arg_name}={value!r}"
                )
        if isinstance(bias, bool) or not isinstance(bias, Real) or not bias > 0:
            raise ValueError(f"`bias` must be a positive number. Received: bias={bias!r}")
        if mode not in _MODES:
            raise ValueError(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
        if alpha_scaling is not None and alpha_scaling not in _ALPHA_SCALINGS:
            raise ValueError(
                f"`alpha_scaling` must be one of {_ALPHA_SCALINGS} or None. "
                f"Received: alpha_scaling={alpha_scaling!r}"
            )
        self.size = size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.bias = float(bias)
        self.mode = mode
        self.alpha_scaling = alpha_scaling
        self.supports_masking = True

    @property
    def effective_alpha(self) -> float:
        """The factor that multiplies the plain sum of squares over the window."""
        scaling = self.alpha_scaling or _DEFAULT_ALPHA_SCALING[self.mode]
        if scaling == "sum":
            return self.alpha
        window_cells = self.size if self.mode == "channel" else self.size**2
        return self.alpha / window_cells

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "The input must have at least a batch and a channel axis. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if self.mode == "spatial" and len(input_shape) != 4:
            raise ValueError(
                "In 'spatial' mode the input must be (batch, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if self.mode == "channel" and input_shape[-1] is None:
            raise ValueError(
                "In 'channel' mode the number of channels (last axis) must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        squares = ops.square(x)
        radius = self.size // 2
        if self.mode == "channel":
            # Sum over neighbouring channels as a product with a 0/1 band matrix: one
            # matmul (fast forward and backward; the zero padding is implicit), measured
            # 6x faster forward and 18x faster with its gradient than summing shifted
            # slices, and 5-10x faster than tf.nn.local_response_normalization.
            channels = np.arange(x.shape[-1])
            band = (np.abs(channels[:, None] - channels[None, :]) <= radius).astype("float32")
            energy = self.effective_alpha * ops.matmul(squares, band)
        else:
            # Mean over the window of the zero-padded squares: "valid" average pooling of
            # the explicitly padded map divides by size**2 everywhere (Caffe's definition;
            # "same" pooling would divide by the cells inside the map at the borders).
            padded = ops.pad(squares, [[0, 0], [radius, radius], [radius, radius], [0, 0]])
            window_mean = ops.average_pool(padded, self.size, strides=1, padding="valid")
            energy = (self.effective_alpha * self.size**2) * window_mean
        # x * exp(-beta * log(d)) instead of x / d ** beta: pow is several times slower on
        # CPU, and d >= bias > 0.
        scale = ops.exp(-self.beta * ops.log(self.bias + energy))
        return ops.cast(x * scale, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "size": self.size,
                "alpha": self.alpha,
                "beta": self.beta,
                "bias": self.bias,
                "mode": self.mode,
                "alpha_scaling": self.alpha_scaling,
            }
        )
        return config
