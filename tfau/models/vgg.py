"""VGG-16/19 building blocks with stable names, a width multiplier and a local weight loader.

EAC-Net fine-tunes VGG-19 and AUNets VGG-16. Both need the convolution outputs inside a group
(EAC-Net adds its attention after ``conv3_1`` and ``conv3_4``), frozen groups, narrow versions
for tests and pretrained weights read from a file the user already has. The layers are named
``<prefix>_block<g>_conv<i>``, ``<prefix>_block<g>_pool``, ``<prefix>_fc6`` and
``<prefix>_fc7``, so weights saved by ``keras.applications.VGG16/VGG19`` (``block1_conv1``,
``fc1``, ``fc2``) or converted from Caffe (``conv1_1``, ``fc6``, ``fc7``) map onto them by name.
Nothing is ever downloaded.

Reference:
    Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import h5py
import keras
import numpy as np

VGG_FILTERS: tuple[int, ...] = (64, 128, 256, 512, 512)
"""Output channels of the five convolution groups of VGG-16 and VGG-19."""

VGG_GROUP_SIZES: dict[int, tuple[int, ...]] = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
"""Number of 3x3 convolutions in each of the five groups, per VGG depth."""

RELU_INITIALIZER = "he_uniform"
"""Random start of VGG's ReLU layers: He scaling keeps the signal alive through 16-19 ReLU
layers (Glorot, Keras' default, halves its variance at every layer: the randomly initialised
network then outputs a constant). Pretrained weights replace it whenever a file is given."""

VGG_CONV_NAME = re.compile(r"^block(\d)_conv(\d)$")
"""A VGG convolution's name after its stream's prefix, ``block<g>_conv<i>`` (group g, i-th
convolution; ``keras.applications``' names): ``enet_block3_conv1``."""

VGG_FC_LAYERS: tuple[str, ...] = ("fc6", "fc7")
"""A VGG stream's fully connected layers after its prefix (Caffe's names): ``aunet_fc6``."""

_KERAS_FC_NAMES = dict(zip(("fc1", "fc2"), VGG_FC_LAYERS, strict=True))
_CAFFE_CONV = re.compile(r"^conv(\d)_(\d)$")


def check_depth(depth: int) -> tuple[int, ...]:
    """Returns the group sizes of a VGG of ``depth`` layers (16 or 19).

    Raises:
        ValueError: if ``depth`` is neither 16 nor 19.
    """
    if depth not in VGG_GROUP_SIZES:
        raise ValueError(f"`depth` must be 16 or 19. Received: depth={depth!r}")
    return VGG_GROUP_SIZES[depth]


def vgg_filters(width: float = 1.0) -> tuple[int, ...]:
    """Returns the channels of the five VGG groups scaled by ``width`` (at least 1 each).

    Args:
        width: channel multiplier; 1.0 is the paper's VGG, 1/16 gives 4, 8, 16, 32, 32.

    Returns:
        The five channel counts.

    Raises:
        ValueError: if ``width`` is not a positive number.

    Example:
        >>> vgg_filters(1 / 16)
        (4, 8, 16, 32, 32)
    """
    if isinstance(width, bool) or not isinstance(width, int | float) or not width > 0:
        raise ValueError(f"`width` must be a positive number. Received: width={width!r}")
    return tuple(max(1, round(filters * width)) for filters in VGG_FILTERS)


def check_weights_argument(weights: str | os.PathLike | None) -> None:
    """Checks a builder's ``weights`` argument: ``None`` or the path of an existing file.

    Raises:
        ValueError: for names such as ``"imagenet"`` (tfau never downloads weights).
        FileNotFoundError: if the path does not exist.
    """
    if weights is None:
        return
    if not isinstance(weights, str | os.PathLike):
        raise ValueError(
            f"`weights` must be None or the path of a local weights file. Received: {weights!r}"
        )
    if not os.path.exists(weights):
        if str(weights).lower() in ("imagenet", "emonet"):
            raise ValueError(
                f"tfau never downloads weights: pass the path of a local .h5 or .weights.h5 "
                f"file holding {weights} VGG weights instead of weights={weights!r}."
            )
        raise FileNotFoundError(f"Weights file not found: {os.fspath(weights)!r}.")


def apply_vgg_convs(
    x: Any, filters: int, num_convs: int, *, name: str, trainable: bool = True
) -> list[Any]:
    """Applies one VGG group's 3x3 ReLU convolutions and returns every convolution's output.

    Args:
        x: input feature map ``(batch, h, w, c)``.
        filters: output channels of every convolution.
        num_convs: number of convolutions.
        name: group name; convolutions are named ``{name}_conv1`` ... .
        trainable: False freezes the group (the papers keep the low groups fixed).

    Returns:
        The outputs of the convolutions, in order; the last one is the group's output.
    """
    outputs = []
    for index in range(1, num_convs + 1):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=RELU_INITIALIZER,
            trainable=trainable,
            name=f"{name}_conv{index}",
        )(x)
        outputs.append(x)
    return outputs


def apply_vgg_pool(x: Any, *, name: str) -> Any:
    """Applies VGG's 2x2 stride-2 max pooling, named ``{name}_pool``."""
    return keras.layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(x)


def apply_vgg_encoder(
    x: Any,
    *,
    depth: int = 16,
    width: float = 1.0,
    prefix: str,
    frozen_groups: int = 0,
) -> Any:
    """Applies the five convolution groups of VGG-16 or VGG-19 (each followed by pooling).

    Args:
        x: input image ``(batch, h, w, c)``; ``h`` and ``w`` must be multiples of 32.
        depth: 16 or 19.
        width: channel multiplier (see ``vgg_filters``).
        prefix: layer-name prefix (``{prefix}_block1_conv1`` ...).
        frozen_groups: the first ``frozen_groups`` groups are not trainable.

    Returns:
        The ``pool5`` output ``(batch, h / 32, w / 32, 512 * width)``.

    Example:
        >>> image = keras.Input((224, 224, 3))
        >>> apply_vgg_encoder(image, depth=16, prefix="aunet").shape
        (None, 7, 7, 512)
    """
    sizes = check_depth(depth)
    if not 0 <= frozen_groups <= 5:
        raise ValueError(
            f"`frozen_groups` must be between 0 and 5. Received: frozen_groups={frozen_groups}"
        )
    for group, (filters, num_convs) in enumerate(zip(vgg_filters(width), sizes, strict=True), 1):
        name = f"{prefix}_block{group}"
        x = apply_vgg_convs(x, filters, num_convs, name=name, trainable=group > frozen_groups)[-1]
        x = apply_vgg_pool(x, name=name)
    return x


def apply_vgg_fc(
    x: Any, units: int, *, name: str, dropout: float = 0.5, trainable: bool = True
) -> Any:
    """Applies a VGG fully connected layer: Dense + ReLU, then dropout when ``dropout > 0``.

    Args:
        x: input features ``(batch, n)``.
        units: output units.
        name: the Dense layer's name; the dropout is ``{name}_dropout``.
        dropout: dropout rate.
        trainable: False freezes the layer.

    Returns:
        ``(batch, units)`` features.
    """
    x = keras.layers.Dense(
        units,
        activation="relu",
        kernel_initializer=RELU_INITIALIZER,
        trainable=trainable,
        name=name,
    )(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def check_input_size(input_size: int | Sequence[int], name: str = "input_size") -> tuple[int, int]:
    """Returns ``(height, width)`` from an int or a pair, both multiples of 32 (VGG's stride).

    Raises:
        ValueError: naming the bad value.
    """
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 and s % 32 == 0 for s in size):
        raise ValueError(
            f"`{name}` must be a positive multiple of 32 (VGG pools 5 times), or a pair of "
            f"them. Received: {name}={input_size!r}"
        )
    return size  # type: ignore[return-value]


def _canonical_name(name: str) -> str | None:
    """Maps a file's layer name to tfau's suffix (``block1_conv1``, ``fc6``, ``fc7``)."""
    name = name.split("/")[-1]
    if VGG_CONV_NAME.match(name):
        return name
    caffe = _CAFFE_CONV.match(name)
    if caffe:
        return f"block{caffe.group(1)}_conv{caffe.group(2)}"
    if name in _KERAS_FC_NAMES:
        return _KERAS_FC_NAMES[name]
    if name in VGG_FC_LAYERS:
        return name
    return None


def _numbered(names: list[str], stem: str) -> list[str]:
    """Sorts Keras' automatic names ``stem``, ``stem_1``, ``stem_2`` ... by their counter."""
    pattern = re.compile(rf"^{stem}(?:_(\d+))?$")
    found = [(int(m.group(1) or 0), n) for n in names if (m := pattern.match(n))]
    return [n for _, n in sorted(found)]


def read_vgg_weights(path: str | os.PathLike) -> dict[str, list[np.ndarray]]:
    """Reads VGG weights from a local HDF5 file, keyed by tfau's layer suffixes.

    Understood layouts:
    - Keras 2 / legacy HDF5 (``keras.applications`` weight files such as
      ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``, ``model.save_weights("x.h5")``
      or a whole model saved as ``.h5``): layers found by name, ``block1_conv1`` or Caffe-style
      ``conv1_1``, ``fc1``/``fc6`` and ``fc2``/``fc7``.
    - Keras 3 ``.weights.h5`` written by ``keras.applications.VGG16/VGG19(...).save_weights``:
      Keras 3 stores layers under automatic class names (``conv2d``, ``conv2d_1`` ...), so the
      n-th convolution is VGG's n-th and the first two dense layers are fc6 and fc7.

    Kernels must be in Keras layout (``(3, 3, in, out)``; dense ``(in, out)`` with inputs in
    height-width-channel order); the output layer (``predictions``, ``fc8``) is ignored.

    Args:
        path: the file.

    Returns:
        ``{"block1_conv1": [kernel, bias], ..., "fc6": [...], "fc7": [...]}``.

    Raises:
        ValueError: if no VGG layer is found in the file.
    """
    weights: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as file:
        if "layers" in file and "layer_names" not in file.attrs:
            layers = file["layers"]
            names = list(layers)
            convs = _numbered(names, "conv2d")
            denses = _numbered(names, "dense")
            sizes = {13: 16, 16: 19}.get(len(convs))
            if sizes is None:
                raise ValueError(
                    f"{os.fspath(path)!r} holds {len(convs)} convolutions; a VGG-16 has 13 and "
                    f"a VGG-19 16."
                )
            conv_names = [
                f"block{g}_conv{i}"
                for g, n in enumerate(VGG_GROUP_SIZES[sizes], 1)
                for i in range(1, n + 1)
            ]
            targets = [*conv_names, *VGG_FC_LAYERS]
            for target, source in zip(targets, convs + denses[:2], strict=False):
                variables = layers[source]["vars"]
                weights[target] = [np.asarray(variables[k]) for k in sorted(variables, key=int)]
        else:
            group = file["model_weights"] if "model_weights" in file else file
            for name in group.attrs.get("layer_names", list(group)):
                name = name.decode() if isinstance(name, bytes) else str(name)
                canonical = _canonical_name(name)
                if canonical is None:
                    continue
                layer = group[name]
                weight_names = layer.attrs.get("weight_names", [])
                if len(weight_names):
                    arrays = [
                        np.asarray(layer[w.decode() if isinstance(w, bytes) else w])
                        for w in weight_names
                    ]
                else:
                    arrays = []
                    layer.visititems(
                        lambda _, item, out=arrays: (
                            out.append(np.asarray(item)) if isinstance(item, h5py.Dataset) else None
                        )
                    )
                    # Without weight_names, order the kernel before the bias by rank.
                    arrays.sort(key=lambda a: -a.ndim)
                if arrays:
                    weights[canonical] = arrays
    if not weights:
        raise ValueError(f"No VGG layer (block1_conv1, conv1_1, fc1, ...) in {os.fspath(path)!r}.")
    return weights


def _fit_array(
    array: np.ndarray,
    shape: tuple[int, ...],
    *,
    feature: tuple[int, ...] | None,
    file_channels: int,
    where: str,
) -> np.ndarray:
    """Fits a file array to a model variable, replicating inputs when the model has k times more.

    This is how AUNets initialises its fusions: the 6-channel conv1 repeats the RGB filters,
    the 224 x 448 (or two-stream) fc6 repeats the 7 x 7 weights, a fused fc7 repeats fc7.
    ``feature`` is the (h, w, c) map flattened into fc6 in the model, ``file_channels`` the
    channels of the file's last convolution.
    """
    if array.shape == shape:
        return array
    mismatch = ValueError(
        f"Cannot load {where}: the file has shape {array.shape}, the model {shape}. Check the "
        f"VGG depth, `width` and fully connected sizes."
    )
    if array.ndim != len(shape) or array.shape[-1] != shape[-1]:
        raise mismatch
    if array.ndim == 4 and array.shape[:2] == shape[:2] and shape[2] % array.shape[2] == 0:
        return np.tile(array, (1, 1, shape[2] // array.shape[2], 1))
    if array.ndim == 2 and shape[0] % array.shape[0] == 0:
        if feature is None:
            return np.tile(array, (shape[0] // array.shape[0], 1))
        height, width, channels = feature
        cells = array.shape[0] // file_channels
        side = round(cells**0.5)
        if (
            side * side * file_channels == array.shape[0]
            and height % side == 0
            and width % side == 0
            and channels % file_channels == 0
        ):
            grid = array.reshape(side, side, file_channels, shape[-1])
            reps = (height // side, width // side, channels // file_channels, 1)
            return np.tile(grid, reps).reshape(shape)
    raise mismatch


def vgg_weights_from_model(model: keras.Model, prefix: str) -> dict[str, list[np.ndarray]]:
    """Collects the VGG layers of one stream of a tfau model, keyed like ``read_vgg_weights``.

    AUNets initialises its flow streams from a trained RGB AUNet this way.

    Args:
        model: a tfau VGG-based model.
        prefix: the stream's layer-name prefix (``"aunet"``).

    Returns:
        ``{"block1_conv1": [kernel, bias], ..., "fc6": [...], "fc7": [...]}``.

    Raises:
        ValueError: if the model has no ``{prefix}_block1_conv1`` layer.
    """
    weights = {}
    for layer in model.layers:
        suffix = layer.name.removeprefix(f"{prefix}_")
        if suffix != layer.name and (VGG_CONV_NAME.match(suffix) or suffix in VGG_FC_LAYERS):
            weights[suffix] = [np.asarray(w) for w in layer.get_weights()]
    if "block1_conv1" not in weights:
        raise ValueError(f"Model {model.name!r} has no VGG stream named {prefix!r}.")
    return weights


def assign_vgg_weights(
    model: keras.Model,
    weights: dict[str, list[np.ndarray]],
    *,
    prefixes: Sequence[str],
    source: str = "the weights",
) -> list[str]:
    """Assigns VGG weights (from ``read_vgg_weights`` or ``vgg_weights_from_model``) by name.

    ``weights["block1_conv1"]`` goes to ``{prefix}_block1_conv1`` for each prefix that names
    a VGG stream in the model, ``weights["fc6"]`` to ``{prefix}_fc6`` where such a layer exists,
    and so on (fc6 is fed by ``{prefix}_flatten``). Where the model has k times more inputs
    than the source (AUNets' fusions) the weights are replicated: conv1 over extra input
    channels, fc6 over the wider or channel-concatenated 7 x 7 map, fc7 over concatenated
    fc6 features.

    Args:
        model: a tfau VGG-based model.
        weights: ``{"block1_conv1": [kernel, bias], ...}``.
        prefixes: layer-name prefixes to load into (``("aunet_pi_conv_rgb", ...)``).
        source: how error messages name the weights (e.g. the file path).

    Returns:
        The names of the model layers that were assigned.

    Raises:
        ValueError: if a convolution of a stream is missing from ``weights`` (e.g. VGG-19
            weights for a VGG-16 model), or a shape cannot be fitted.
    """
    layers = {layer.name: layer for layer in model.layers}
    last_conv = max(n for n in weights if n.startswith("block"))
    file_channels = int(weights[last_conv][0].shape[-1])
    loaded = []
    for prefix in prefixes:
        stream_convs = [n for n in layers if VGG_CONV_NAME.match(n.removeprefix(f"{prefix}_"))]
        stream_convs = [n for n in stream_convs if n.startswith(f"{prefix}_block")]
        missing = [n for n in stream_convs if n.removeprefix(f"{prefix}_") not in weights]
        if missing:
            raise ValueError(
                f"{source} has no weights for {', '.join(missing)}: is it a VGG of the "
                f"model's depth?"
            )
        for canonical, arrays in weights.items():
            layer = layers.get(f"{prefix}_{canonical}")
            if layer is None:
                continue
            variables = layer.weights
            if len(variables) != len(arrays):
                raise ValueError(
                    f"Cannot load {layer.name}: {source} has {len(arrays)} arrays, the layer "
                    f"{len(variables)} weights."
                )
            feature = None
            flatten = layers.get(f"{prefix}_flatten")
            if canonical == "fc6" and flatten is not None:
                feature = tuple(int(d) for d in flatten.input.shape[1:])
            values = [
                _fit_array(
                    a,
                    tuple(v.shape),
                    feature=feature,
                    file_channels=file_channels,
                    where=layer.name,
                )
                for a, v in zip(arrays, variables, strict=True)
            ]
            layer.set_weights(values)
            loaded.append(layer.name)
    return loaded


def load_vgg_weights(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    prefixes: Sequence[str],
) -> list[str]:
    """Loads VGG weights from a local file into every VGG stream of ``model``, by layer name.

    Reads the file with ``read_vgg_weights`` and assigns it with ``assign_vgg_weights``
    (which replicates weights where a fusion has k times more inputs).

    Args:
        model: a tfau VGG-based model.
        path: local ``.h5`` / ``.weights.h5`` file.
        prefixes: layer-name prefixes to load into (``("aunet",)``).

    Returns:
        The names of the model layers that were loaded.

    Raises:
        ValueError: if a convolution of a stream is missing from the file (e.g. a VGG-19 file
            for a VGG-16 model), or a shape cannot be fitted.

    Example:
        >>> model = AUNet(weights=None)
        >>> loaded = load_vgg_weights(model, "vgg16_notop.h5", prefixes=("aunet",))
    """
    return assign_vgg_weights(
        model, read_vgg_weights(path), prefixes=prefixes, source=repr(os.fspath(path))
    )
