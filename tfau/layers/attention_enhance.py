"""EAC-Net's enhancing layer: attention-weighted features added to a parallel conv branch."""

import keras
import tensorflow as tf
from keras import ops

_INTERPOLATIONS = ("bilinear", "nearest", "area")


@keras.saving.register_keras_serializable(package="tfau")
class AttentionEnhance(keras.layers.Layer):
    """Adds attention-weighted features to a parallel convolution branch (E-Net).

    EAC-Net's E-Net multiplies a feature map by a landmark-derived attention map, in parallel
    with a VGG convolution group, and sums the two:

        output = conv_branch + features * resize(attention, feature size),

    the single-channel attention map being broadcast over the channels. In the authors' code
    ``group3_out = conv3_4 + conv3_1 * map(56 x 56)`` and
    ``group4_out = conv4_4 + conv4_1 * map(28 x 28)``: the attention map is computed once
    (e.g. on a 100 x 100 grid) and this layer resizes it to each feature size, so one map
    input serves both enhancing layers.

    Resizing follows ``tf.image.resize`` (half-pixel centres, no antialiasing); a map that
    already has the feature size passes unchanged. ``"area"`` averages when shrinking, which
    keeps narrow attention peaks that bilinear subsampling may skip.

    Args:
        interpolation: how the map is resized: ``"bilinear"``, ``"nearest"`` or ``"area"``.
            Defaults to ``"bilinear"``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: list ``[features, conv_branch, attention]``: ``features`` and ``conv_branch``
            of the same shape ``(batch, height, width, channels)``; ``attention`` of shape
            ``(batch, map_height, map_width)`` or ``(batch, map_height, map_width, 1)``.

    Output shape:
        ``(batch, height, width, channels)``, the shape of ``conv_branch``.

    Example:

    ```python
    import numpy as np
    from tfau.layers import AttentionEnhance

    conv3_1 = np.random.rand(2, 56, 56, 256).astype("float32")
    conv3_4 = np.random.rand(2, 56, 56, 256).astype("float32")
    attention = np.random.rand(2, 100, 100).astype("float32")
    group3_out = AttentionEnhance()([conv3_1, conv3_4, attention])
    print(group3_out.shape)  # (2, 56, 56, 256)
    ```

    Reference:
        Li, Abtahi, Zhu and Yin, "EAC-Net: A Region-based Deep Enhancing and Cropping
        Approach for Facial Action Unit Detection", FG 2017, section III-B.
    """

    def __init__(self, interpolation: str = "bilinear", **kwargs) -> None:
        super().__init__(**kwargs)
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"`interpolation` must be one of {_INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation

    def build(self, input_shape):
        if not isinstance(input_shape, list | tuple) or len(input_shape) != 3:
            raise ValueError(
                "`AttentionEnhance` expects a list of 3 inputs [features, conv_branch, "
                f"attention]. Received: input_shape={input_shape}"
            )
        features_shape, branch_shape, attention_shape = (tuple(s) for s in input_shape)
        if len(features_shape) != 4 or len(branch_shape) != 4:
            raise ValueError(
                "`features` and `conv_branch` must be (batch, height, width, channels). "
                f"Received: features shape={features_shape}, conv_branch shape={branch_shape}"
            )
        for axis in (1, 2, 3):
            a, b = features_shape[axis], branch_shape[axis]
            if a is not None and b is not None and a != b:
                raise ValueError(
                    "`features` and `conv_branch` must have the same height, width and "
                    f"channels. Received: features shape={features_shape}, "
                    f"conv_branch shape={branch_shape}"
                )
        rank = len(attention_shape)
        if rank not in (3, 4) or (rank == 4 and attention_shape[-1] != 1):
            raise ValueError(
                "`attention` must be (batch, height, width) or (batch, height, width, 1). "
                f"Received: attention shape={attention_shape}"
            )

    def call(self, inputs):
        features, conv_branch, attention = inputs
        if len(attention.shape) == 3:
            attention = ops.expand_dims(attention, -1)
        # tf.image.resize accepts a dynamic target size (the feature map's height and width
        # may be unknown when the model is built); it returns float32 except for "nearest".
        resized = tf.image.resize(
            attention, tf.shape(features)[1:3], method=self.interpolation, antialias=False
        )
        resized = ops.cast(resized, features.dtype)
        return conv_branch + features * resized

    def compute_output_shape(self, input_shape):
        features_shape, branch_shape = input_shape[0], input_shape[1]
        return tuple(
            b if b is not None else f for f, b in zip(features_shape, branch_shape, strict=True)
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"interpolation": self.interpolation})
        return config
