"""DRML (Zhao, Chu and Zhang, CVPR 2016) and its ConvNet and LCN baselines (Table 2).

The network of Fig. 2 as the authors' Caffe model builds it (reference/implementations.md):

    170 x 170 x 3 -> conv1 11x11x32 (valid) -> 160 x 160 x 32
    -> region layer, 8 x 8 patches of 20 x 20 (per patch BN -> ReLU -> conv 3x3, + identity)
    -> ReLU -> max-pool 2/2 -> LRN(5, 1e-4, 0.75)                       -> 80 x 80 x 32
    -> conv 8x8x16 -> conv 8x8x16 -> conv 6x6x16 stride 2 -> conv 5x5x16 (valid, ReLU)
                                                                        -> 27 x 27 x 16
    -> fc 4096 (ReLU, dropout 0.5) -> fc 2048 (ReLU, dropout 0.5) -> fc num_aus -> sigmoid

about 56.9 million parameters (the paper's "about 56 million"), 56.2 million of them in the
fully connected layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from tfau import layers
from tfau.models.registry import register

_REGIONS = ("region", "none", "locally_connected")

#: Small DRML for tests and smoke runs: 74 x 74 is about the smallest input the paper's
#: fixed kernel sizes allow (conv7 output 3 x 3).
_TINY = {
    "input_shape": (74, 74, 3),
    "num_aus": 3,
    "conv1_filters": 8,
    "conv_filters": 8,
    "fc_units": (32, 32),
}


def apply_region_block(
    x: Any, region: str, grid_size: int, name: str, bn_epsilon: float = 1e-3
) -> Any:
    """DRML's region2 stage on the conv1 maps, or its replacement in the Table 2 baselines.

    ``"region"``: the region layer (DRML); ``"none"``: nothing (ConvNet: DRML without the
    region layer); ``"locally_connected"``: ReLU, then a 3x3 locally connected layer with as
    many channels, zero-padded so that the map keeps its size (LCN, "ConvNet with a locally
    connected layer"; the paper gives no kernel size). A ReLU follows in every case.
    """
    if region == "region":
        x = layers.RegionLayer(grid_size=grid_size, epsilon=bn_epsilon, name=f"{name}_region2")(x)
    elif region == "locally_connected":
        x = keras.layers.ReLU(name=f"{name}_conv1_relu")(x)
        x = layers.LocallyConnected2D(
            filters=x.shape[-1], kernel_size=3, padding="same", name=f"{name}_lc2"
        )(x)
    return keras.layers.ReLU(name=f"{name}_relu2")(x)


def apply_fc_block(x: Any, units: int, dropout: float, name: str) -> Any:
    """Fully connected layer -> ReLU -> dropout."""
    x = keras.layers.Dense(units, activation="relu", name=name)(x)
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)


def _check_arguments(
    input_shape: Sequence[int],
    num_aus: int,
    region: str,
    conv1_filters: int,
    conv_filters: int,
    fc_units: Sequence[int],
    dropout: float,
) -> None:
    if region not in _REGIONS:
        raise ValueError(f"`region` must be one of {_REGIONS}. Received: region={region!r}")
    for arg_name, value in (
        ("num_aus", num_aus),
        ("conv1_filters", conv1_filters),
        ("conv_filters", conv_filters),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`{arg_name}` must be a positive integer. Received: {arg_name}={value!r}"
            )
    if len(fc_units) != 2 or not all(isinstance(u, int) and u >= 1 for u in fc_units):
        raise ValueError(
            "`fc_units` must be two positive integers (fc8, fc9). "
            f"Received: fc_units={tuple(fc_units)!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if len(input_shape) != 3 or min(input_shape[:2]) < 66:
        raise ValueError(
            "`input_shape` must be (height, width, channels) with height and width >= 66 "
            "(the smallest input DRML's valid convolutions accept; the paper uses 170). "
            f"Received: input_shape={tuple(input_shape)!r}"
        )


@register(tiny_kwargs=_TINY)
def DRML(
    input_shape: Sequence[int] = (170, 170, 3),
    num_aus: int = 12,
    region: str = "region",
    grid_size: int = 8,
    conv1_filters: int = 32,
    conv_filters: int = 16,
    fc_units: Sequence[int] = (4096, 2048),
    dropout: float = 0.5,
    bn_epsilon: float = 1e-3,
    name: str | None = None,
) -> keras.Model:
    """Builds DRML: a region layer between conv1 and four valid convolutions, then 3 fc.

    Follows Fig. 2 and section 3.1 of the paper with the layer details of the authors' Caffe
    model (see the module docstring). The region layer is ``tfau.layers.RegionLayer``; the
    baselines of Table 2 replace it (``region="none"``: ConvNet, ``"locally_connected"``:
    LCN), also registered as ``DRML_ConvNet`` and ``DRML_LCN``.

    Args:
        input_shape: ``(height, width, channels)`` of the aligned face. Defaults to
            ``(170, 170, 3)``; conv1's output (input - 10) must be divisible by
            ``grid_size``.
        num_aus: number of AUs. Defaults to 12 (BP4D).
        region: ``"region"`` (DRML), ``"none"`` (ConvNet) or ``"locally_connected"`` (LCN).
        grid_size: patches per side of the region layer. Defaults to 8.
        conv1_filters: channels of conv1 (and of the region layer). Defaults to 32.
        conv_filters: channels of conv4-conv7. Defaults to 16.
        fc_units: widths of fc8 and fc9. Defaults to ``(4096, 2048)``.
        dropout: dropout rate after fc8 and fc9. Defaults to 0.5.
        bn_epsilon: variance epsilon of the region layer's per-patch BatchNorms. Defaults
            to ``1e-3`` (Keras); Caffe and PyTorch use ``1e-5``.
        name: model name. Defaults to ``"drml"``, ``"drml_convnet"`` or ``"drml_lcn"``.

    Returns:
        A functional ``keras.Model`` with input ``"image"`` and outputs
        ``{"au": (batch, num_aus) probabilities}`` (float32 under mixed precision).

    Example:
        >>> model = DRML(input_shape=(74, 74, 3), num_aus=3, conv1_filters=8,
        ...              conv_filters=8, fc_units=(32, 32))
        >>> model.output["au"].shape
        (None, 3)

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, Fig. 2, section 3.1, Table 2.
    """
    input_shape = tuple(input_shape)
    fc_units = tuple(fc_units)
    _check_arguments(input_shape, num_aus, region, conv1_filters, conv_filters, fc_units, dropout)
    prefix = "drml"
    if name is None:
        name = {"region": "drml", "none": "drml_convnet", "locally_connected": "drml_lcn"}[region]

    image = keras.Input(shape=input_shape, name="image")
    x = layers.FastGradientConv2D(conv1_filters, 11, name=f"{prefix}_conv1")(image)
    x = apply_region_block(x, region, grid_size, prefix, bn_epsilon)
    x = keras.layers.MaxPooling2D(2, strides=2, name=f"{prefix}_pool3")(x)
    x = layers.LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, name=f"{prefix}_lrn3")(x)
    for index, (kernel, stride) in enumerate(((8, 1), (8, 1), (6, 2), (5, 1)), start=4):
        x = layers.FastGradientConv2D(
            conv_filters, kernel, strides=stride, activation="relu", name=f"{prefix}_conv{index}"
        )(x)
    x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    x = apply_fc_block(x, fc_units[0], dropout, name=f"{prefix}_fc8")
    x = apply_fc_block(x, fc_units[1], dropout, name=f"{prefix}_fc9")
    logits = keras.layers.Dense(num_aus, name=f"{prefix}_fc10")(x)
    au = keras.layers.Activation("sigmoid", dtype="float32", name=f"{prefix}_au")(logits)
    return keras.Model(inputs={"image": image}, outputs={"au": au}, name=name)


@register(name="DRML_ConvNet", tiny_kwargs=_TINY)
def DRMLConvNet(**kwargs: Any) -> keras.Model:
    """DRML's "ConvNet" baseline (Table 2): DRML without the region layer.

    Args:
        **kwargs: any argument of ``DRML`` except ``region``.

    Returns:
        The ``keras.Model`` named ``"drml_convnet"``.

    Reference:
        Zhao, Chu and Zhang, CVPR 2016, section 4.1 ("ConvNet") and Table 2.
    """
    return DRML(region="none", **kwargs)


@register(name="DRML_LCN", tiny_kwargs=_TINY)
def DRMLLCN(**kwargs: Any) -> keras.Model:
    """DRML's "LCN" baseline (Table 2): a locally connected layer in place of the region layer.

    The locally connected layer is 3x3 with as many channels as conv1, zero-padded
    (``tfau.layers.LocallyConnected2D``); at full size it holds 236.7 million parameters.

    Args:
        **kwargs: any argument of ``DRML`` except ``region``.

    Returns:
        The ``keras.Model`` named ``"drml_lcn"``.

    Reference:
        Zhao, Chu and Zhang, CVPR 2016, section 4.1 ("LCN") and Table 2.
    """
    return DRML(region="locally_connected", **kwargs)
