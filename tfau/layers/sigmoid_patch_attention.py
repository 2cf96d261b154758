"""PAttNet's patch attention: a learned weight per patch encoding, sigmoid or softmax."""

import keras
from keras import ops

_NORMALIZATIONS = ("sigmoid", "softmax")


@keras.saving.register_keras_serializable(package="tfau")
class SigmoidPatchAttention(keras.layers.Layer):
    """Weights patch encodings by learned attention and sums them into one face encoding.

    PAttNet encodes each facial patch with its own CNN into ``e_p`` and lets the network
    learn how much each patch matters for the AU at hand:

        h_p = tanh(W e_p + b),   alpha_p = sigmoid(h_p . c),   v = sum_p alpha_p e_p,

    with a learned face-level context vector ``c``. Unlike the usual softmax attention, the
    sigmoid lets several patches contribute fully at once (AUs co-occur). The softmax variant
    (``normalize="softmax"``, the paper's ablation) normalises ``h_p . c`` over the patches
    instead. The attention logits and weights are computed in float32 under mixed precision.

    Args:
        units: positive int or None, the size of the hidden representation ``h_p`` (and of
            ``c``). ``None`` uses the encoding size ``D`` (PAttNet: ``W`` is 60 x 60).
            Defaults to ``None``.
        normalize: ``"sigmoid"`` (PAttNet) or ``"softmax"`` (over patches).
            Defaults to ``"sigmoid"``.
        return_attention: bool, also return the attention weights ``alpha`` (e.g. to plot
            them, as in the paper's Fig. 4). Defaults to ``False``.
        kernel_initializer: initializer for ``W``. Defaults to ``"glorot_uniform"``.
        bias_initializer: initializer for ``b``. Defaults to ``"zeros"``.
        context_initializer: initializer for ``c`` (random, as in the paper).
            Defaults to ``"glorot_uniform"``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, num_patches, D)`` patch encodings ``e_p``.

    Output shape:
        ``(batch, D)`` face encoding ``v``; with ``return_attention=True`` the tuple
        ``(v, alpha)`` with ``alpha`` of shape ``(batch, num_patches)``.

    Example:

    ```python
    import numpy as np
    from tfau.layers import SigmoidPatchAttention

    encodings = np.random.rand(4, 9, 60).astype("float32")  # 9 patches, e_p of size 60
    v, alpha = SigmoidPatchAttention(return_attention=True)(encodings)
    print(v.shape, alpha.shape)  # (4, 60) (4, 9)
    ```

    Reference:
        Ertugrul, Jeni, Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, section 3.3, eqs. (1)-(3).
    """

    def __init__(
        self,
        units: int | None = None,
        normalize: str = "sigmoid",
        return_attention: bool = False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        context_initializer="glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if units is not None and (
            isinstance(units, bool) or not isinstance(units, int) or units < 1
        ):
            raise ValueError(
                f"`units` must be a positive integer or None. Received: units={units!r}"
            )
        if normalize not in _NORMALIZATIONS:
            raise ValueError(
                f"`normalize` must be one of {_NORMALIZATIONS}. Received: normalize={normalize!r}"
            )
        if not isinstance(return_attention, bool):
            raise ValueError(
                "`return_attention` must be a bool. "
                f"Received: return_attention={return_attention!r}"
            )
        self.units = units
        self.normalize = normalize
        self.return_attention = return_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.context_initializer = keras.initializers.get(context_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "The input must be (batch, num_patches, encoding_size) with a known "
                f"encoding_size. Received: input_shape={tuple(input_shape)}"
            )
        encoding_size = input_shape[-1]
        hidden = self.units if self.units is not None else encoding_size
        self.kernel = self.add_weight(
            name="kernel", shape=(encoding_size, hidden), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(hidden,), initializer=self.bias_initializer)
        self.context = self.add_weight(
            name="context", shape=(hidden,), initializer=self.context_initializer
        )

    def call(self, inputs):
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        scores = ops.cast(ops.einsum("bph,h->bp", hidden, self.context), "float32")
        if self.normalize == "sigmoid":
            attention = ops.sigmoid(scores)
        else:
            attention = ops.softmax(scores, axis=-1)
        attention = ops.cast(attention, self.compute_dtype)
        encoding = ops.einsum("bp,bpd->bd", attention, inputs)
        if self.return_attention:
            return encoding, attention
        return encoding

    def compute_output_shape(self, input_shape):
        encoding_shape = (input_shape[0], input_shape[-1])
        if self.return_attention:
            return encoding_shape, (input_shape[0], input_shape[1])
        return encoding_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "normalize": self.normalize,
                "return_attention": self.return_attention,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "context_initializer": keras.initializers.serialize(self.context_initializer),
            }
        )
        return config
