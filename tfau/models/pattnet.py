"""PAttNet (Onal Ertugrul, Jeni and Cohn, BMVC 2019) and the baselines of its Table 3.

Fig. 1 and section 4 ("Network") of the paper, with the details of the authors' code
(reference/implementations.md):

    nine 100 x 100 x 3 patches, each through its own encoder:
        3 x [conv 5x5 (32, 64, 64 filters) -> ReLU -> BatchNorm -> max-pool 2]
        -> flatten (9 x 9 x 64 = 5184) -> fc 60                      = e_p
    sigmoid patch attention (W 60 x 60, context 60): v = sum_p alpha_p e_p
    -> ReLU -> fc num_aus -> sigmoid

The nine encoders are nine separate towers. Each takes its patch with a ``Cropping3D`` on
the patch axis (a built-in layer, so ``.keras`` files load with ``safe_mode=True``). One
grouped convolution (``groups=9``) would express the same nine encoders in fewer ops, but
TensorFlow's CPU gradient of grouped convolutions is slow: measured on this 2-core CPU at
full size (batch 4), a training step took 52.4 s grouped against 0.64 s with nine towers, and
inference 728 ms against 169 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from tfau import layers
from tfau.models.registry import register

_ATTENTIONS = ("sigmoid", "softmax")

#: Small PAttNet for tests and smoke runs: 40 x 40 patches leave 1 x 1 x 8 after the encoder.
_TINY = {
    "input_shape": (9, 40, 40, 3),
    "num_aus": 3,
    "filters": (8, 8, 8),
    "encoding_size": 16,
}
_TINY_SINGLE = {"input_shape": (40, 40, 3), "num_aus": 3, "filters": (8, 8, 8), "encoding_size": 16}


def _check_common(num_aus: int, filters: Sequence[int], encoding_size: int) -> None:
    for arg_name, value in (("num_aus", num_aus), ("encoding_size", encoding_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg_name}` must be a positive integer. Received: {arg_name}={value!r}"
            )
    if len(filters) != 3 or not all(isinstance(f, int) and f >= 1 for f in filters):
        raise ValueError(
            "`filters` must be three positive integers (one per convolution). "
            f"Received: filters={tuple(filters)!r}"
        )


def _check_patch_size(height: int, width: int, argument: str, shape: tuple) -> None:
    if min(height, width) < 36:
        raise ValueError(
            f"`{argument}` must give patches of at least 36 x 36 pixels (three valid 5x5 "
            "convolutions and 2x2 poolings; the paper uses 100 x 100). "
            f"Received: {argument}={shape!r}"
        )


def apply_patch_encoder(
    x: Any, filters: Sequence[int], encoding_size: int, name: str, bn_epsilon: float = 1e-3
) -> Any:
    """PAttNet's encoder: 3 x [conv 5x5 -> ReLU -> BatchNorm -> max-pool 2] -> flatten -> fc.

    Each bracket is one ``ConvReLUBatchNormPool`` layer (``<name>_block<i>``): the three Keras
    layers' computation, with a fused BatchNorm and a faster kernel gradient.

    Args:
        x: ``(batch, h, w, c)`` patch (or whole face for the holistic baseline).
        filters: filters of the three convolutions, e.g. ``(32, 64, 64)``.
        encoding_size: size of the encoding (60 in the paper).
        name: layer name prefix.
        bn_epsilon: BatchNorm variance epsilon.

    Returns:
        ``(batch, encoding_size)`` encoding ``e_p``.
    """
    for index, count in enumerate(filters, start=1):
        x = layers.ConvReLUBatchNormPool(
            count, 5, 2, epsilon=bn_epsilon, name=f"{name}_block{index}"
        )(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    return keras.layers.Dense(encoding_size, name=f"{name}_fc")(x)


def apply_patch_encoders(
    patches: Any, filters: Sequence[int], encoding_size: int, name: str, bn_epsilon: float = 1e-3
) -> Any:
    """One independent encoder per patch -> ``(batch, num_patches, encoding_size)``.

    Args:
        patches: ``(batch, num_patches, h, w, c)`` patches.
        filters: filters of the three convolutions of each encoder.
        encoding_size: size ``D`` of each patch encoding ``e_p`` (60 in the paper).
        name: layer name prefix; encoder ``p`` (1-based, the paper's ``P_p``) is
            ``<name>_p<p>``.
        bn_epsilon: BatchNorm variance epsilon.

    Returns:
        ``(batch, num_patches, encoding_size)`` patch encodings.
    """
    num_patches, height, width, channels = patches.shape[1:]
    encodings = []
    for index in range(num_patches):
        tower = f"{name}_p{index + 1}"
        x = keras.layers.Cropping3D(
            ((index, num_patches - 1 - index), (0, 0), (0, 0)), name=f"{tower}_take"
        )(patches)
        x = keras.layers.Reshape((height, width, channels), name=f"{tower}_patch")(x)
        x = apply_patch_encoder(x, filters, encoding_size, tower, bn_epsilon)
        encodings.append(keras.layers.Reshape((1, encoding_size), name=f"{tower}_row")(x))
    return keras.layers.Concatenate(axis=1, name=f"{name}_encodings")(encodings)


@register(tiny_kwargs=_TINY)
def PAttNet(
    input_shape: Sequence[int] = (9, 100, 100, 3),
    num_aus: int = 12,
    attention: str = "sigmoid",
    filters: Sequence[int] = (32, 64, 64),
    encoding_size: int = 60,
    bn_epsilon: float = 1e-3,
    name: str | None = None,
) -> keras.Model:
    """Builds PAttNet: one CNN per facial patch, patch attention, ReLU and fc.

    Args:
        input_shape: ``(num_patches, height, width, channels)`` of the ``"patches"`` input.
            Defaults to ``(9, 100, 100, 3)``: the nine 100 x 100 patches the pipeline crops.
        num_aus: number of AUs. Defaults to 12 (multi-label head); ``num_aus=1`` is the
            paper's one-network-per-AU setting (see ``PAttNetPerAU``).
        attention: ``"sigmoid"`` (PAttNet) or ``"softmax"`` (Table 3's "PAttNet Softmax").
        filters: filters of each encoder's three convolutions. Defaults to ``(32, 64, 64)``.
        encoding_size: size of each patch encoding (and of the attention's ``W`` and
            context vector). Defaults to 60.
        bn_epsilon: variance epsilon of the encoders' BatchNorms. Defaults to ``1e-3``
            (Keras); the authors' PyTorch code uses ``1e-5``.
        name: model name. Defaults to ``"pattnet"`` or ``"pattnet_softmax"``.

    Returns:
        A functional ``keras.Model`` with input ``"patches"`` and outputs ``{"au": (batch,
        num_aus) probabilities, "patch_attention": (batch, num_patches) weights alpha_p}``.

    Example:
        >>> model = PAttNet(input_shape=(9, 40, 40, 3), num_aus=3, filters=(8, 8, 8),
        ...                 encoding_size=16)
        >>> {key: tensor.shape for key, tensor in model.output.items()}
        {'au': (None, 3), 'patch_attention': (None, 9)}

    Reference:
        Onal Ertugrul, Jeni and Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, Fig. 1, sections 3.2-3.3 and 4.
    """
    input_shape = tuple(input_shape)
    _check_common(num_aus, filters, encoding_size)
    if attention not in _ATTENTIONS:
        raise ValueError(
            f"`attention` must be one of {_ATTENTIONS}. Received: attention={attention!r}"
        )
    if len(input_shape) != 4:
        raise ValueError(
            "`input_shape` must be (num_patches, height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    _check_patch_size(input_shape[1], input_shape[2], "input_shape", input_shape)
    if name is None:
        name = "pattnet" if attention == "sigmoid" else "pattnet_softmax"
    prefix = "pattnet"

    patches = keras.Input(shape=input_shape, name="patches")
    encodings = apply_patch_encoders(
        patches, filters, encoding_size, f"{prefix}_encoder", bn_epsilon
    )
    face, alpha = layers.SigmoidPatchAttention(
        normalize=attention, return_attention=True, name=f"{prefix}_attention"
    )(encodings)
    x = keras.layers.ReLU(name=f"{prefix}_relu")(face)
    logits = keras.layers.Dense(num_aus, name=f"{prefix}_fc")(x)
    au = keras.layers.Activation("sigmoid", dtype="float32", name=f"{prefix}_au")(logits)
    patch_attention = keras.layers.Activation(
        "linear", dtype="float32", name=f"{prefix}_patch_attention"
    )(alpha)
    return keras.Model(
        inputs={"patches": patches},
        outputs={"au": au, "patch_attention": patch_attention},
        name=name,
    )


@register(name="PAttNet_Softmax", tiny_kwargs=_TINY)
def PAttNetSoftmax(**kwargs: Any) -> keras.Model:
    """PAttNet with softmax patch attention (Table 3, "PAttNet Softmax").

    Args:
        **kwargs: any argument of ``PAttNet`` except ``attention``.

    Returns:
        The ``keras.Model`` named ``"pattnet_softmax"``.

    Reference:
        Onal Ertugrul, Jeni and Cohn, BMVC 2019, section 5.3 and Table 3.
    """
    return PAttNet(attention="softmax", **kwargs)


def _single_cnn(
    input_shape: Sequence[int],
    num_aus: int,
    filters: Sequence[int],
    encoding_size: int,
    name: str,
    bn_epsilon: float,
) -> keras.Model:
    input_shape = tuple(input_shape)
    _check_common(num_aus, filters, encoding_size)
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels). "
            f"Received: input_shape={input_shape!r}"
        )
    _check_patch_size(input_shape[0], input_shape[1], "input_shape", input_shape)
    image = keras.Input(shape=input_shape, name="image")
    x = apply_patch_encoder(image, filters, encoding_size, f"{name}_encoder", bn_epsilon)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    logits = keras.layers.Dense(num_aus, name=f"{name}_fc")(x)
    au = keras.layers.Activation("sigmoid", dtype="float32", name=f"{name}_au")(logits)
    return keras.Model(inputs={"image": image}, outputs={"au": au}, name=name)


@register(name="PAttNet_SinglePatch", tiny_kwargs=_TINY_SINGLE)
def PAttNetSinglePatch(
    input_shape: Sequence[int] = (100, 100, 3),
    num_aus: int = 12,
    filters: Sequence[int] = (32, 64, 64),
    encoding_size: int = 60,
    bn_epsilon: float = 1e-3,
) -> keras.Model:
    """Single-patch CNN of Table 3 (columns P1-P9): one PAttNet encoder on one patch.

    The patch encoder (3 x [conv 5x5 -> ReLU -> BN -> max-pool], fc 60), then ReLU and fc, as
    PAttNet without the attention. The pipeline feeds one of the nine patches as ``"image"``.

    Args:
        input_shape: ``(height, width, channels)`` of the patch. Defaults to 100 x 100 x 3.
        num_aus: number of AUs. Defaults to 12.
        filters: filters of the three convolutions. Defaults to ``(32, 64, 64)``.
        encoding_size: size of the encoding. Defaults to 60.
        bn_epsilon: variance epsilon of the encoders' BatchNorms. Defaults to ``1e-3``
            (Keras); the authors' PyTorch code uses ``1e-5``.

    Returns:
        A ``keras.Model`` named ``"pattnet_single_patch"``: input ``"image"``, output
        ``{"au": (batch, num_aus)}``.

    Reference:
        Onal Ertugrul, Jeni and Cohn, BMVC 2019, section 5.2 and Table 3.
    """
    return _single_cnn(
        input_shape, num_aus, filters, encoding_size, "pattnet_single_patch", bn_epsilon
    )


@register(name="PAttNet_Holistic", tiny_kwargs=_TINY_SINGLE)
def PAttNetHolistic(
    input_shape: Sequence[int] = (200, 200, 3),
    num_aus: int = 12,
    filters: Sequence[int] = (32, 64, 64),
    encoding_size: int = 60,
    bn_epsilon: float = 1e-3,
) -> keras.Model:
    """Holistic-face CNN of Table 3: the patch encoder applied to the whole 200 x 200 face.

    Args:
        input_shape: ``(height, width, channels)`` of the face. Defaults to 200 x 200 x 3 as
            in the paper.
        num_aus: number of AUs. Defaults to 12.
        filters: filters of the three convolutions. Defaults to ``(32, 64, 64)``.
        encoding_size: size of the encoding. Defaults to 60.
        bn_epsilon: variance epsilon of the encoders' BatchNorms. Defaults to ``1e-3``
            (Keras); the authors' PyTorch code uses ``1e-5``.

    Returns:
        A ``keras.Model`` named ``"pattnet_holistic"``: input ``"image"``, output
        ``{"au": (batch, num_aus)}``.

    Reference:
        Onal Ertugrul, Jeni and Cohn, BMVC 2019, section 5.2 and Table 3.
    """
    return _single_cnn(input_shape, num_aus, filters, encoding_size, "pattnet_holistic", bn_epsilon)


def PAttNetPerAU(aus: Sequence[int], **kwargs: Any) -> dict[int, keras.Model]:
    """The paper's setting: one single-output PAttNet per AU ("We train individual networks").

    Args:
        aus: the AU numbers, e.g. ``tfau.aus.BP4D_AUS``.
        **kwargs: any argument of ``PAttNet`` except ``num_aus`` and ``name``.

    Returns:
        ``{au: model}``, each model named ``"pattnet_au<au>"`` with ``"au"`` of shape
        ``(batch, 1)``.

    Reference:
        Onal Ertugrul, Jeni and Cohn, BMVC 2019, section 3.4.
    """
    if not aus or len(set(aus)) != len(aus):
        raise ValueError(f"`aus` must be distinct AU numbers. Received: aus={tuple(aus)!r}")
    return {au: PAttNet(num_aus=1, name=f"pattnet_au{au}", **kwargs) for au in aus}
