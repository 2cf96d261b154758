"""EAC-Net (Li, Abtahi, Zhu and Yin, FG 2017) on VGG-19: FVGG, E-Net and EAC-Net.

- ``FVGG``: VGG-19 fine-tuned for AUs: fc6 4096 -> fc 2048 -> num_aus sigmoid, dropout, low
  groups frozen (paper section III-A).
- ``ENet``: FVGG plus two enhancing layers: ``group3_out = conv3_4 + conv3_1 * map`` and
  ``group4_out = conv4_4 + conv4_1 * map``, the attention map built from the landmarks inside
  the model (section III-B, eq. 1).
- ``EACNet``: E-Net plus the cropping net (C-Net): spatial LRN on group 4's output, a 3 x 3 crop
  around each of the 20 AU centres upsampled to 6 x 6, a 3 x 3 convolution and an fc 150 of its
  own for each region, concatenated with the E-Net's fc6 features -> fc 2048 -> dropout ->
  num_aus sigmoid (section III-C). Built on a trained E-Net as the paper trains it:
  ``EACNet(enet=trained_enet)`` copies the E-Net's VGG weights.

The 20 per-region convolutions and fully connected layers are two layers (``RegionConv2D``,
``RegionDense``), each one batched matrix product over all regions, not 20 layers.

Reference:
    Li, Abtahi, Zhu and Yin, "EAC-Net: A Region-based Deep Enhancing and Cropping Approach for
    Facial Action Unit Detection", FG 2017 (arXiv:1702.02925).
"""

from __future__ import annotations

import os
from typing import Any

import keras

from tfau.layers import (
    AttentionEnhance,
    EACNetROICentres,
    LandmarkAttention,
    LocalResponseNormalization,
    RegionConv2D,
    RegionDense,
    ROICrop,
)
from tfau.models.registry import register
from tfau.models.vgg import (
    VGG_GROUP_SIZES,
    apply_vgg_convs,
    apply_vgg_encoder,
    apply_vgg_fc,
    apply_vgg_pool,
    assign_vgg_weights,
    check_input_size,
    check_weights_argument,
    read_vgg_weights,
    vgg_filters,
    vgg_weights_from_model,
)

HEAD_FC_LAYER = "head_fc"
"""The AU head's fully connected layer (2048 units, the features EAC-Net's classifiers and the
linear transfer read), after the model's name: ``fvgg_head_fc``, ``enet_head_fc``,
``eacnet_head_fc``."""

AU_LOGITS_LAYER = "au_logits"
"""The AU head's output layer (one logit per AU, before the sigmoid), after the model's name:
``enet_au_logits``."""

AU_HEAD_LAYERS: tuple[str, ...] = (HEAD_FC_LAYER, AU_LOGITS_LAYER)
"""The AU head FVGG, E-Net and EAC-Net share, input first: E-Net starts as a copy of FVGG's."""

_TINY = {"input_size": 32, "num_aus": 3, "width": 1 / 16, "fc_units": 32, "head_units": 16}


def _check_units(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_dropout(dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")


def _check_frozen_groups(frozen_groups: int) -> None:
    if isinstance(frozen_groups, bool) or frozen_groups not in range(5):
        raise ValueError(
            f"`frozen_groups` must be an integer from 0 to 4. Received: "
            f"frozen_groups={frozen_groups!r}"
        )


def _inputs(input_size: int, with_landmarks: bool) -> dict[str, Any]:
    height, width = check_input_size(input_size)
    inputs = {"image": keras.Input((height, width, 3), name="image")}
    if with_landmarks:
        inputs["landmarks"] = keras.Input((49, 2), name="landmarks")
    return inputs


def _apply_attention(landmarks: Any, image_size: tuple[int, int], *, prefix: str) -> Any:
    """EAC-Net's 100 x 100 attention map (eq. 1, 20 centres) from the landmarks, in the graph."""
    return LandmarkAttention(rule="eacnet", image_size=image_size, name=f"{prefix}_attention")(
        landmarks
    )


def _apply_groups_1_to_4(
    image: Any, attention: Any | None, *, prefix: str, width: float, frozen_groups: int
) -> Any:
    """VGG-19 groups 1-4 (pool after groups 1-3), enhanced after groups 3 and 4 if attention.

    Returns group 4's output before pool4 (28 x 28 x 512 for 224): C-Net crops it.
    """
    filters, sizes = vgg_filters(width), VGG_GROUP_SIZES[19]
    x = image
    for group in range(1, 5):
        name = f"{prefix}_block{group}"
        convs = apply_vgg_convs(
            x, filters[group - 1], sizes[group - 1], name=name, trainable=group > frozen_groups
        )
        x = convs[-1]
        if attention is not None and group in (3, 4):
            # group_out = conv{g}_4 + conv{g}_1 * map, the map resized to the feature size.
            x = AttentionEnhance(name=f"{name}_enhance")([convs[0], convs[-1], attention])
        if group < 4:
            x = apply_vgg_pool(x, name=name)
    return x


def _apply_group5_fc6(
    group4: Any, *, prefix: str, width: float, fc_units: int, dropout: float
) -> Any:
    """pool4 -> VGG-19 group 5 -> pool5 -> flatten -> fc6 (+ dropout)."""
    x = apply_vgg_pool(group4, name=f"{prefix}_block4")
    x = apply_vgg_convs(x, vgg_filters(width)[4], 4, name=f"{prefix}_block5")[-1]
    x = apply_vgg_pool(x, name=f"{prefix}_block5")
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    return apply_vgg_fc(x, fc_units, name=f"{prefix}_fc6", dropout=dropout)


def _apply_au_head(x: Any, num_aus: int, *, prefix: str, units: int, dropout: float) -> Any:
    """The paper's new layers: fc ``units`` (2048) + dropout -> num_aus sigmoid (float32)."""
    x = apply_vgg_fc(x, units, name=f"{prefix}_{HEAD_FC_LAYER}", dropout=dropout)
    logits = keras.layers.Dense(num_aus, name=f"{prefix}_{AU_LOGITS_LAYER}")(x)
    return keras.layers.Activation("sigmoid", dtype="float32", name=f"{prefix}_au")(logits)


def _load(model: keras.Model, weights: str | os.PathLike | None) -> None:
    if weights is not None:
        assign_vgg_weights(
            model,
            read_vgg_weights(weights),
            prefixes=(model.name,),
            source=repr(os.fspath(weights)),
        )


@register(tiny_kwargs=_TINY)
def FVGG(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    dropout: float = 0.5,
    frozen_groups: int = 3,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds FVGG, EAC-Net's fine-tuned VGG-19 baseline.

    VGG-19 with fc6 (4096), then the paper's two new layers: fc 2048 and the ``num_aus``
    sigmoid outputs, with dropout after fc6 and fc 2048. The paper keeps "the first 3 groups"
    fixed (section III-A; the authors' code freezes groups 1-2: ``frozen_groups=2``).

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the new fc layer. Defaults to 2048.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 3.
        weights: None or a local VGG-19 weights file (convolutions and fc6 are loaded).

    Returns:
        A ``keras.Model`` named ``"fvgg"``: input ``"image"``, output ``{"au": (batch,
        num_aus)}``.

    Example:
        >>> model = FVGG(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> model.output_shape["au"]
        (None, 3)

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-A, Fig. 2.
    """
    _check_units(num_aus=num_aus, fc_units=fc_units, head_units=head_units)
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    inputs = _inputs(input_size, with_landmarks=False)
    x = apply_vgg_encoder(
        inputs["image"], depth=19, width=width, prefix="fvgg", frozen_groups=frozen_groups
    )
    x = keras.layers.Flatten(name="fvgg_flatten")(x)
    x = apply_vgg_fc(x, fc_units, name="fvgg_fc6", dropout=dropout)
    au = _apply_au_head(x, num_aus, prefix="fvgg", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="fvgg")
    _load(model, weights)
    return model


@register(tiny_kwargs=_TINY)
def ENet(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    dropout: float = 0.5,
    frozen_groups: int = 2,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds E-Net: FVGG with EAC-Net's two enhancing (attention) layers.

    The landmarks give EAC-Net's attention map (20 AU centres, 11 x 11 areas with weight
    ``1 - 0.095 * manhattan distance`` on a 100 x 100 grid) inside the model; it enhances
    groups 3 and 4 in parallel with their convolutions: ``group3_out = conv3_4 + conv3_1 *
    map(56 x 56)``, ``group4_out = conv4_4 + conv4_1 * map(28 x 28)`` (the paper's figure
    multiplies the previous group's output; its channels differ from conv3_4's, so tfau takes
    the authors' code's conv3_1 / conv4_1). Groups 1-2 are kept frozen (section III-B).

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier. Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the new fc layer. Defaults to 2048.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 2.
        weights: None or a local VGG-19 weights file (convolutions and fc6 are loaded).

    Returns:
        A ``keras.Model`` named ``"enet"``: inputs ``"image"`` and ``"landmarks"`` ``(batch,
        49, 2)`` in image pixels, output ``{"au": (batch, num_aus)}``.

    Example:
        >>> model = ENet(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> sorted(model.input)
        ['image', 'landmarks']

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-B, eq. 1, Fig. 2-3.
    """
    _check_units(num_aus=num_aus, fc_units=fc_units, head_units=head_units)
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    inputs = _inputs(input_size, with_landmarks=True)
    image_size = check_input_size(input_size)
    attention = _apply_attention(inputs["landmarks"], image_size, prefix="enet")
    group4 = _apply_groups_1_to_4(
        inputs["image"], attention, prefix="enet", width=width, frozen_groups=frozen_groups
    )
    x = _apply_group5_fc6(group4, prefix="enet", width=width, fc_units=fc_units, dropout=dropout)
    au = _apply_au_head(x, num_aus, prefix="enet", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="enet")
    _load(model, weights)
    return model


@register(tiny_kwargs={**_TINY, "region_units": 8})
def EACNet(
    input_size: int = 224,
    num_aus: int = 12,
    *,
    width: float = 1.0,
    fc_units: int = 4096,
    head_units: int = 2048,
    region_units: int = 150,
    dropout: float = 0.5,
    frozen_groups: int = 2,
    fuse_enet: bool = True,
    enet: keras.Model | None = None,
    weights: str | os.PathLike | None = None,
) -> keras.Model:
    """Builds EAC-Net: E-Net plus the cropping net (C-Net), fused.

    C-Net (section III-C): a spatial local response normalisation (k=2, alpha=0.002,
    beta=0.75 over the 3 x 3 neighbourhood, eq. 2) of group 4's enhanced output (28 x 28 x
    512); for each of the 20 AU centres, a 3 x 3 crop (clamped inside the map) upscaled to
    6 x 6; per region its own 3 x 3 convolution (512, valid: 6 x 6 -> 4 x 4) and its own
    fc ``region_units`` (150). The 20 region features are concatenated with the E-Net's fc6
    features (``fuse_enet=True``: EAC-Net "fuses" E-Net and C-Net, and "the rest is similar to
    FVGG and E-Net") -> fc 2048 -> dropout 0.5 -> ``num_aus`` sigmoid. ``fuse_enet=False``
    feeds only the C-Net features to fc 2048.

    The paper trains C-Net on top of a trained E-Net: pass it as ``enet`` and its VGG layers
    (convolutions and fc6) are copied into this model.

    Args:
        input_size: side of the square face image (multiple of 32). Defaults to 224.
        num_aus: number of AU outputs. Defaults to 12 (BP4D).
        width: VGG channel multiplier (also scales the region convolutions). Defaults to 1.0.
        fc_units: units of fc6. Defaults to 4096.
        head_units: units of the fc after the concatenation. Defaults to 2048.
        region_units: units of each region's fc. Defaults to 150.
        dropout: dropout rate. Defaults to 0.5.
        frozen_groups: number of low convolution groups kept frozen. Defaults to 2.
        fuse_enet: concatenate the E-Net's fc6 features with the C-Net's. Defaults to True.
        enet: a trained ``ENet`` of the same input size and width to start from.
        weights: None or a local VGG-19 weights file (ignored when ``enet`` is given).

    Returns:
        A ``keras.Model`` named ``"eacnet"``: inputs ``"image"`` and ``"landmarks"``, output
        ``{"au": (batch, num_aus)}``.

    Example:
        >>> enet = ENet(input_size=32, num_aus=3, width=1 / 16, fc_units=32, head_units=16)
        >>> model = EACNet(input_size=32, num_aus=3, width=1 / 16, fc_units=32,
        ...                head_units=16, region_units=8, enet=enet)

    Reference:
        Li et al., "EAC-Net", FG 2017, section III-C, eq. 2, Fig. 2.
    """
    _check_units(
        num_aus=num_aus, fc_units=fc_units, head_units=head_units, region_units=region_units
    )
    _check_dropout(dropout)
    _check_frozen_groups(frozen_groups)
    check_weights_argument(weights)
    if enet is not None and enet.name != "enet":
        raise ValueError(
            f"`enet` must be a model built by ENet (named 'enet'). Received a model named "
            f"{enet.name!r}."
        )
    inputs = _inputs(input_size, with_landmarks=True)
    image_size = check_input_size(input_size)
    attention = _apply_attention(inputs["landmarks"], image_size, prefix="eacnet")
    group4 = _apply_groups_1_to_4(
        inputs["image"], attention, prefix="eacnet", width=width, frozen_groups=frozen_groups
    )
    centres = EACNetROICentres(name="eacnet_cnet_centres")(inputs["landmarks"])
    x = LocalResponseNormalization(
        size=3, alpha=0.002, beta=0.75, bias=2.0, mode="spatial", name="eacnet_cnet_lrn"
    )(group4)
    x = ROICrop(crop_size=3, output_size=6, image_size=image_size, name="eacnet_cnet_crop")(
        [x, centres]
    )
    x = RegionConv2D(vgg_filters(width)[3], 3, activation="relu", name="eacnet_cnet_region_conv")(x)
    x = RegionDense(region_units, activation="relu", name="eacnet_cnet_region_fc")(x)
    features = keras.layers.Flatten(name="eacnet_cnet_flatten")(x)
    if fuse_enet:
        enet_features = _apply_group5_fc6(
            group4, prefix="eacnet", width=width, fc_units=fc_units, dropout=dropout
        )
        features = keras.layers.Concatenate(name="eacnet_fusion")([enet_features, features])
    au = _apply_au_head(features, num_aus, prefix="eacnet", units=head_units, dropout=dropout)
    model = keras.Model(inputs, {"au": au}, name="eacnet")
    if enet is not None:
        assign_vgg_weights(
            model, vgg_weights_from_model(enet, "enet"), prefixes=("eacnet",), source="`enet`"
        )
    else:
        _load(model, weights)
    return model
