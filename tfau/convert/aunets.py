"""AUNets' released PyTorch models (BCV-Uniandes/AUNets) as tfau AUNets and HydraNets.

The authors train one binary VGG-16 per AU, fold and optical-flow option and save its
``Classifier.state_dict()`` (PyTorch 0.3.1, Python 2.7) as
``.../fold_<k>/AU<nn>/OF_<option>/emotionnet/<epoch>_<step>.pth``; every key starts with
``model.``. What the keys look like per option (``features`` and ``classifier`` are
``nn.Sequential``: a convolution at index 0, 2, 5, 7, 10, ..., 28; linear layers at 0, 3, 6):

==============  =====================================================  =====================
option          keys                                                   tfau network
==============  =====================================================  =====================
``None``        ``features.*``, ``classifier.{0,3,6}``                 `AUNet` (RGB)
``Alone``       the same keys (the flow image only)                    `AUNetFlow`
``Channels``    the same, ``features.0`` reads 6 channels              `AUNetChannels`
``Horizontal``  the same, ``classifier.0`` reads a 512 x 7 x 14 map    `AUNetHorizontal`
``Conv``        ``features_rgb.*``, ``features_of.*``,                 `AUNetPiConv`
                ``classifier.{0,3,6}`` (fc6 reads 1024 x 7 x 7)
``FC6``         two encoders, ``classifier_rgb.0``, ``classifier_of.0``,  `AUNetPiFC6`
                ``classifier.{0,3}``
``FC7``         two encoders, ``classifier_rgb.{0,3}``,                `AUNetPiFC7`
                ``classifier_of.{0,3}``, ``classifier.0``
==============  =====================================================  =====================

What the conversion takes care of, so that the tfau model computes what the authors' code
computes (measured against their modules: ``experiments/benchmarks/convert_aunets.py``):

- PyTorch flattens the NCHW pool5 map: the rows of fc6 are reordered for Keras' NHWC
  ``Flatten`` (7 x 7, 7 x 14 side by side for ``Horizontal``, 1024 channels RGB-then-flow for
  ``Conv``);
- ``FC7``: their forward applies ``classifier_rgb`` to the flow stream too, so tfau's flow
  fc6/fc7 get ``classifier_rgb``'s weights and ``classifier_of`` (never used, never trained)
  is ignored;
- ``None`` and ``Alone`` checkpoints hold the same keys and shapes: only the user (or the
  authors' ``OF_<option>`` folder in the path, which is checked) can tell them apart.

HydraNet: the authors' ``--HYDRA`` training updates only ``model.classifier`` of an RGB VGG
whose encoder stays the EmoNet one, so the per-AU checkpoints share ``model.features``;
`convert_hydranet` checks that they do and builds one `HydraNet` head per checkpoint.

Test-time preprocessing (their ``data_loader.get_loader`` for the released ``emotionnet``
models): the face crop (stored at 256 x 256, ``Faces_256``) resized to 224 x 224 (PIL
``ANTIALIAS``; tfau resizes bilinearly), ``ToTensor`` (RGB, ``x / 255``), then
``Normalize(mean=(0.485, 0.456, 0.406), std=(1, 1, 1))``: tfau's
``normalization="unit_imagenet_mean"``. Flow images go through the same transform. The
written ``model.json`` says so (``face_size`` 256, ``pipeline_kwargs``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tfau.aus import BP4D_AUS
from tfau.convert.state_dict import (
    ConversionError,
    Slot,
    conv_to_keras,
    conv_to_torch,
    dense_nchw_to_keras,
    dense_nchw_to_torch,
    dense_to_keras,
    dense_to_torch,
    dump_slots,
    load_slots,
    load_state_dict,
)
from tfau.models import network
from tfau.models.aunets import AUNet, HydraNet, hydranet_aus
from tfau.models.vgg import VGG_FILTERS, VGG_GROUP_SIZES

#: The authors' optical-flow options (their ``--OF``; ``Vertical`` was never released).
OF_OPTIONS: tuple[str, ...] = ("None", "Alone", "Channels", "Horizontal", "Conv", "FC6", "FC7")
#: The ``tfau.models`` registry name of each option's network (``model.json``).
MODEL_NAMES: dict[str, str] = {
    "None": "AUNet",
    "Alone": "AUNetFlow",
    "Channels": "AUNetChannels",
    "Horizontal": "AUNetHorizontal",
    "Conv": "AUNetPiConv",
    "FC6": "AUNetPiFC6",
    "FC7": "AUNetPiFC7",
}
#: tfau's `AUNet` fusion of each option (its network's record).
FUSIONS: dict[str, str | None] = {
    option: network(name).pipeline_kwargs.get("fusion") for option, name in MODEL_NAMES.items()
}
#: The AUs the authors trained models for (BP4D's, their ``config.AUs``).
AUS: tuple[int, ...] = BP4D_AUS
#: The authors' network input (their ``--image_size``) and stored face crops (``Faces_256``).
INPUT_SIZE = 224
FACE_SIZE = 256
#: ``x / 255 - (0.485, 0.456, 0.406)``, RGB: their test-time ``Normalize`` (std 1).
NORMALIZATION = "unit_imagenet_mean"
#: Every key of their checkpoints starts with this (``Classifier.model``).
PREFIX = "model."
#: Keys that carry no weights of the converted network, by option.
IGNORED: dict[str, tuple[str, ...]] = {"FC7": (f"{PREFIX}classifier_of.*",)}

_SINGLE_STREAM = ("None", "Alone", "Channels", "Horizontal")
_MODULE = "checkpoint"
_OF_FOLDER = re.compile(r"^OF_(\w+)$")
_AU_FOLDER = re.compile(r"^AU(\d+)$")
# Key prefixes of JAA-Net's six module files (ZhiwenShao/PyTorch-JAANet), to name them.
_JAANET_PREFIXES = (
    "multiscale_feat.",
    "align_feat.",
    "align_output.",
    "local_aus_attention.",
    "local_aus_branch.",
    "feat_extract.",
    "au_output.",
)


def _vgg16_convs() -> tuple[tuple[int, int, int], ...]:
    """(group, conv, index in the authors' ``features`` nn.Sequential) of VGG-16's convs.

    Their ``make_layers`` appends conv, ReLU per convolution and one max pool per group.
    """
    out, index = [], 0
    for group, size in enumerate(VGG_GROUP_SIZES[16], start=1):
        for conv in range(1, size + 1):
            out.append((group, conv, index))
            index += 2
        index += 1
    return tuple(out)


_CONVS = _vgg16_convs()
_LAST_CONV = _CONVS[-1][2]


# --------------------------------------------------------------------------------------------
# Slots


def _encoder(model: keras.Model, module: str, prefix: str, key: str) -> list[Slot]:
    """The 13 convolutions ``{prefix}_block<g>_conv<i>`` <-> ``{key}.<index>.weight/bias``."""
    slots = []
    for group, conv, index in _CONVS:
        layer = model.get_layer(f"{prefix}_block{group}_conv{conv}")
        slots.append(
            Slot(
                module,
                f"{key}.{index}.weight",
                layer.kernel,
                slice(None),
                conv_to_keras,
                conv_to_torch,
            )
        )
        slots.append(Slot(module, f"{key}.{index}.bias", layer.bias))
    return slots


def _dense(
    model: keras.Model, module: str, key: str, name: str, flatten: str | None = None
) -> list[Slot]:
    """Linear ``key`` <-> Dense ``name``; ``flatten``: the Flatten whose NCHW order it reads."""
    layer = model.get_layer(name)
    if flatten is None:
        to_keras, to_torch = dense_to_keras, dense_to_torch
    else:
        _, height, width, channels = model.get_layer(flatten).input.shape
        blocks = [(int(channels), int(height), int(width))]
        to_keras, to_torch = dense_nchw_to_keras(blocks), dense_nchw_to_torch(blocks)
    return [
        Slot(module, f"{key}.weight", layer.kernel, slice(None), to_keras, to_torch),
        Slot(module, f"{key}.bias", layer.bias),
    ]


def aunet_slots(
    model: keras.Model, of_option: str = "None", *, module: str = _MODULE, dump: bool = False
) -> list[Slot]:
    """Every tensor of the authors' checkpoint of ``of_option`` <-> ``model``'s variables.

    Args:
        model: the tfau network of ``of_option`` (`AUNet` with ``FUSIONS[of_option]``).
        of_option: one of `OF_OPTIONS`.
        module: the module name the slots give (error messages, `dump_slots`' output).
        dump: ``FC7`` only: slots for writing, where tfau's flow fc6/fc7 go to
            ``classifier_of`` (reading fills them from ``classifier_rgb``, as their forward
            runs).
    """
    of_option = _check_of_option(of_option)
    name = network(MODEL_NAMES[of_option]).keras_name
    if model.name != name:
        raise ValueError(
            f"An OF_{of_option} AUNet is a tfau model named {name!r} "
            f"({MODEL_NAMES[of_option]}). Received a model named {model.name!r}."
        )
    p = PREFIX
    if of_option in _SINGLE_STREAM:
        return [
            *_encoder(model, module, name, f"{p}features"),
            *_dense(model, module, f"{p}classifier.0", f"{name}_fc6", f"{name}_flatten"),
            *_dense(model, module, f"{p}classifier.3", f"{name}_fc7"),
            *_dense(model, module, f"{p}classifier.6", f"{name}_au_logits"),
        ]
    rgb, flow = f"{name}_rgb", f"{name}_flow"
    slots = [
        *_encoder(model, module, rgb, f"{p}features_rgb"),
        *_encoder(model, module, flow, f"{p}features_of"),
    ]
    if of_option == "Conv":
        return [
            *slots,
            *_dense(model, module, f"{p}classifier.0", f"{name}_fc6", f"{name}_flatten"),
            *_dense(model, module, f"{p}classifier.3", f"{name}_fc7"),
            *_dense(model, module, f"{p}classifier.6", f"{name}_au_logits"),
        ]
    if of_option == "FC6":
        return [
            *slots,
            *_dense(model, module, f"{p}classifier_rgb.0", f"{rgb}_fc6", f"{rgb}_flatten"),
            *_dense(model, module, f"{p}classifier_of.0", f"{flow}_fc6", f"{flow}_flatten"),
            *_dense(model, module, f"{p}classifier.0", f"{name}_fc7"),
            *_dense(model, module, f"{p}classifier.3", f"{name}_au_logits"),
        ]
    # FC7: their VGG_FC7.forward runs classifier_rgb on both streams.
    flow_key = f"{p}classifier_of" if dump else f"{p}classifier_rgb"
    return [
        *slots,
        *_dense(model, module, f"{p}classifier_rgb.0", f"{rgb}_fc6", f"{rgb}_flatten"),
        *_dense(model, module, f"{p}classifier_rgb.3", f"{rgb}_fc7"),
        *_dense(model, module, f"{flow_key}.0", f"{flow}_fc6", f"{flow}_flatten"),
        *_dense(model, module, f"{flow_key}.3", f"{flow}_fc7"),
        *_dense(model, module, f"{p}classifier.0", f"{name}_au_logits"),
    ]


def _hydranet_head_slots(model: keras.Model, au: str, module: str) -> list[Slot]:
    """One AU's checkpoint <-> the shared encoder and that AU's head of a `HydraNet`."""
    p, head = PREFIX, f"hydranet_au{au}"
    return [
        *_encoder(model, module, "hydranet", f"{p}features"),
        *_dense(model, module, f"{p}classifier.0", f"{head}_fc6", "hydranet_flatten"),
        *_dense(model, module, f"{p}classifier.3", f"{head}_fc7"),
        *_dense(model, module, f"{p}classifier.6", f"{head}_logits"),
    ]


def hydranet_slots(model: keras.Model) -> list[Slot]:
    """Every tensor of the per-AU checkpoints <-> a `HydraNet`'s variables.

    The module of AU ``a`` is ``"AU<a>"``; each holds the shared encoder and its head.
    """
    labels = hydranet_aus(model)
    if model.name != "hydranet" or not labels:
        raise ValueError(f"`model` must be a HydraNet. Received a model named {model.name!r}.")
    return [slot for au in labels for slot in _hydranet_head_slots(model, au, f"AU{au}")]


# --------------------------------------------------------------------------------------------
# Checks


def _check_of_option(of_option: Any) -> str:
    if of_option is None:
        of_option = "None"
    names = {name.lower(): name for name in OF_OPTIONS}
    if not isinstance(of_option, str) or of_option.lower() not in names:
        raise ValueError(
            f"`of_option` must be one of the authors' optical-flow options {OF_OPTIONS}. "
            f"Received: of_option={of_option!r}"
        )
    return names[of_option.lower()]


def _check_au(au: Any) -> int:
    if isinstance(au, bool) or not isinstance(au, int | np.integer) or int(au) not in AUS:
        raise ValueError(
            "`au` must be one of the AUs the authors trained AUNets for (BP4D): "
            f"{', '.join(map(str, AUS))}. Received: au={au!r}"
        )
    return int(au)


def _check_hydranet_aus(aus: Sequence[Any]) -> list[int]:
    aus = [_check_au(au) for au in aus]
    if not aus:
        raise ValueError("A HydraNet needs at least one AU checkpoint. Received none.")
    if len(set(aus)) != len(aus):
        repeated = sorted({au for au in aus if aus.count(au) > 1})
        raise ValueError(f"Each AU may have one head only. Repeated: {repeated} in aus={aus}")
    return aus


def _check_out(out: str | os.PathLike[str]) -> None:
    if Path(out).suffix != ".keras":
        raise ValueError(f"`out` must end in '.keras'. Received: out={os.fspath(out)!r}")


def _check_checkpoint_file(path: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such checkpoint file: {path}")


def _check_path_hints(path: str, au: int, of_option: str) -> None:
    """The authors' folders ``AU<nn>`` and ``OF_<option>`` in ``path`` must agree."""
    for part in Path(path).parts[:-1]:
        match = _AU_FOLDER.match(part)
        if match and int(match[1]) != au:
            raise ValueError(
                f"{path} lies in the authors' folder {part!r} (their models of AU "
                f"{int(match[1])}), but au={au}: pass --au {int(match[1])} (or move the file "
                "if the folder name is wrong)."
            )
        match = _OF_FOLDER.match(part)
        if match and match[1] not in OF_OPTIONS:
            raise ValueError(
                f"{path} lies in the authors' folder {part!r}: tfau converts their options "
                f"{OF_OPTIONS} only (OF_Vertical stacks RGB over flow; its keys are those of "
                "OF_Horizontal, its layout is not)."
            )
        if match and match[1] != of_option:
            raise ValueError(
                f"{path} lies in the authors' folder {part!r} (their OF option {match[1]}), "
                f"but of_option={of_option!r}: pass --of_option {match[1]} (or move the file "
                "if the folder name is wrong)."
            )


def _not_aunets(state_dict: Mapping[str, np.ndarray]) -> str:
    """Why ``state_dict`` is not an AUNets checkpoint, naming what it looks like."""
    keys = sorted(state_dict)
    if any(k.startswith(_JAANET_PREFIXES) for k in keys):
        return (
            "it looks like a JAA-Net module file (ZhiwenShao/PyTorch-JAANet, keys such as "
            f"{keys[:2]}): convert its snapshot folder with `tfau convert jaanet`."
        )
    if any(k.startswith(("features.", "classifier.")) for k in keys):
        return (
            f"its keys lack AUNets' {PREFIX!r} prefix (e.g. {keys[0]!r}): a plain VGG-16 "
            "state dict (such as torchvision's ImageNet VGG-16 or an EmoNet encoder), not a "
            "trained per-AU AUNet."
        )
    return (
        f"AUNets checkpoints hold {PREFIX}features.* or {PREFIX}features_rgb.* tensors; this "
        f"one holds {len(keys)} keys such as {keys[:3]}."
    )


def detect_of_options(state_dict: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """The OF options whose checkpoints have the keys and shapes of ``state_dict``.

    ``None`` and ``Alone`` cannot be told apart (same keys, same shapes); an empty tuple means
    the tensors are not an AUNets checkpoint.
    """
    p = PREFIX
    if f"{p}features_rgb.0.weight" in state_dict:
        if f"{p}classifier_rgb.3.weight" in state_dict:
            return ("FC7",)
        if f"{p}classifier_rgb.0.weight" in state_dict:
            return ("FC6",)
        return ("Conv",)
    first = state_dict.get(f"{p}features.0.weight")
    if first is None:
        return ()
    if np.ndim(first) == 4 and np.shape(first)[1] == 6:
        return ("Channels",)
    last = state_dict.get(f"{p}features.{_LAST_CONV}.weight")
    fc6 = state_dict.get(f"{p}classifier.0.weight")
    if last is not None and fc6 is not None and np.ndim(fc6) == 2 and np.ndim(last) == 4:
        cells, rest = divmod(np.shape(fc6)[1], np.shape(last)[0])
        # Side by side, fc6 reads an h x 2h map: 2 h^2 cells, never a square.
        if not rest and math.isqrt(cells) ** 2 != cells and _is_square(cells / 2):
            return ("Horizontal",)
    return ("None", "Alone")


def _is_square(value: float) -> bool:
    return value == int(value) and math.isqrt(int(value)) ** 2 == int(value)


def _check_option_fits(state_dict: Mapping[str, np.ndarray], of_option: str) -> None:
    detected = detect_of_options(state_dict)
    if not detected:
        raise ConversionError(f"Not an AUNets checkpoint: {_not_aunets(state_dict)}")
    if of_option not in detected:
        looks = " or ".join(f"OF_{o}" for o in detected)
        advice = " or ".join(f"--of_option {o}" for o in detected)
        raise ConversionError(
            f"The checkpoint looks like an {looks} AUNet, not OF_{of_option} (its keys and "
            f"shapes are those of {looks}): convert it with {advice}."
        )


def _tensor(state_dict: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    if key not in state_dict:
        raise ConversionError(
            f"The checkpoint has no tensor {key!r}: not an AUNets checkpoint of this option "
            f"({len(state_dict)} keys, e.g. {sorted(state_dict)[:3]})."
        )
    return np.asarray(state_dict[key])


def _architecture(state_dict: Mapping[str, np.ndarray], of_option: str) -> dict[str, Any]:
    """The builder arguments (input_size, width, fc_units) read from the tensors' shapes."""
    p = PREFIX
    features = f"{p}features" if of_option in _SINGLE_STREAM else f"{p}features_rgb"
    first = _tensor(state_dict, f"{features}.0.weight")
    last = _tensor(state_dict, f"{features}.{_LAST_CONV}.weight")
    fc6_key = (
        f"{p}classifier_rgb.0.weight" if of_option in ("FC6", "FC7") else f"{p}classifier.0.weight"
    )
    fc6 = _tensor(state_dict, fc6_key)
    output = _tensor(
        state_dict,
        {"FC6": f"{p}classifier.3.weight", "FC7": f"{p}classifier.0.weight"}.get(
            of_option, f"{p}classifier.6.weight"
        ),
    )
    if first.ndim != 4 or last.ndim != 4 or fc6.ndim != 2 or output.ndim != 2:
        raise ConversionError(
            f"The checkpoint's tensors have unexpected ranks ({features}.0.weight "
            f"{first.shape}, {fc6_key} {fc6.shape}): not an AUNets VGG-16."
        )
    if output.shape[0] != 1:
        raise ConversionError(
            f"The checkpoint's last layer has {output.shape[0]} outputs; the authors' per-AU "
            "AUNets have one (a binary logit). An EmoNet (22) or ImageNet (1000) VGG-16 is not "
            "an AU detector."
        )
    maps = 2 if of_option in ("Horizontal", "Conv") else 1
    cells, rest = divmod(fc6.shape[1], last.shape[0] * maps)
    side = math.isqrt(cells)
    if rest or side < 1 or side * side != cells:
        raise ConversionError(
            f"{fc6_key} reads {fc6.shape[1]} features, which is not {maps} square map(s) of "
            f"{last.shape[0]} channels: not an OF_{of_option} AUNet."
        )
    return {
        "input_size": 32 * side,
        "width": first.shape[0] / VGG_FILTERS[0],
        "fc_units": int(fc6.shape[0]),
    }


# --------------------------------------------------------------------------------------------
# State dicts <-> models


def from_state_dict(state_dict: Mapping[str, np.ndarray], of_option: str = "None") -> keras.Model:
    """A tfau AUNet with the weights of one authors' checkpoint.

    The network's size (input side, VGG width, fc units) is read from the tensors' shapes:
    the authors' models give the 224 px, full-width VGG-16.

    Args:
        state_dict: ``{key: array}`` of the checkpoint (`tfau.convert.load_state_dict`).
        of_option: its optical-flow option, one of `OF_OPTIONS` (any case; Python None is
            ``"None"``).

    Returns:
        The tfau network of ``of_option`` (`MODEL_NAMES`), one ``"au"`` column.

    Raises:
        ValueError: unknown ``of_option``.
        ConversionError: the tensors are not an AUNets checkpoint of this option (the message
            says which option they look like), or a key is missing, misshaped or left over.
    """
    of_option = _check_of_option(of_option)
    _check_option_fits(state_dict, of_option)
    model = AUNet(num_aus=1, fusion=FUSIONS[of_option], **_architecture(state_dict, of_option))
    load_slots(
        aunet_slots(model, of_option),
        [],
        {_MODULE: state_dict},
        {_MODULE: IGNORED.get(of_option, ())},
    )
    return model


def to_state_dict(model: keras.Model, of_option: str = "None") -> dict[str, np.ndarray]:
    """The authors' checkpoint tensors (``model.`` keys, PyTorch layouts) of a tfau AUNet.

    ``from_state_dict(to_state_dict(model, o), o)`` has ``model``'s weights exactly.

    Raises:
        ValueError: ``model`` is not the network of ``of_option``, or (``FC7``) its flow
            stream's fc6/fc7 differ from the RGB stream's: the authors' forward runs
            ``classifier_rgb`` on both streams, so their code could not compute this model.
    """
    of_option = _check_of_option(of_option)
    slots = aunet_slots(model, of_option, dump=True)
    if of_option == "FC7":
        name = network(MODEL_NAMES["FC7"]).keras_name
        for fc in ("fc6", "fc7"):
            rgb, flow = model.get_layer(f"{name}_rgb_{fc}"), model.get_layer(f"{name}_flow_{fc}")
            if not all(
                np.array_equal(a, b)
                for a, b in zip(rgb.get_weights(), flow.get_weights(), strict=True)
            ):
                raise ValueError(
                    f"The flow stream's {fc} differs from the RGB stream's: the authors' "
                    "VGG_FC7.forward applies classifier_rgb to both streams, so their code "
                    "cannot compute this model."
                )
    return dump_slots(slots, [])[_MODULE]


def _encoder_keys(state_dict: Mapping[str, np.ndarray]) -> list[str]:
    return [k for k in state_dict if k.startswith(f"{PREFIX}features.")]


def _compare_encoders(
    reference: Mapping[str, np.ndarray],
    reference_name: str,
    state_dict: Mapping[str, np.ndarray],
    name: str,
) -> None:
    keys = _encoder_keys(state_dict)
    for key in [*reference, *keys]:
        if key not in reference or key not in state_dict:
            where, other = (
                (name, reference_name) if key not in reference else (reference_name, name)
            )
            raise ConversionError(
                f"The checkpoints do not share one encoder: {key} is in {where} but not in {other}."
            )
        a, b = np.asarray(reference[key]), np.asarray(state_dict[key])
        if a.shape != b.shape or not np.array_equal(a, b):
            detail = (
                f"shapes {a.shape} and {b.shape}"
                if a.shape != b.shape
                else f"max |difference| {float(np.max(np.abs(a - b))):.3g}"
            )
            raise ConversionError(
                f"The checkpoints do not share one encoder: {key} differs between "
                f"{reference_name} and {name} ({detail}). A HydraNet needs per-AU checkpoints "
                "trained with the authors' --HYDRA on one encoder; convert these one by one "
                "with `tfau convert aunet`."
            )


def hydranet_from_state_dicts(
    state_dicts: Iterable[Mapping[str, np.ndarray]],
    aus: Sequence[int],
    names: Sequence[str] | None = None,
) -> keras.Model:
    """A tfau `HydraNet` from per-AU RGB checkpoints that share one encoder.

    Args:
        state_dicts: one checkpoint per AU, in the order of ``aus`` (any iterable: a generator
            reading files keeps only one checkpoint in memory at a time).
        aus: their AUs (`AUS`, distinct): the heads and ``"au"`` columns, in order.
        names: how messages name the checkpoints (e.g. their files). Defaults to ``AU<a>``.

    Raises:
        ValueError: bad or repeated AUs, or a count that does not match.
        ConversionError: a checkpoint is not an RGB (``OF_None``) AUNet, or the encoders
            differ (the message names the first differing key and both checkpoints).
    """
    aus = _check_hydranet_aus(aus)
    names = [f"AU{au}" for au in aus] if names is None else [str(n) for n in names]
    if len(names) != len(aus):
        raise ValueError(f"`names` must name the {len(aus)} checkpoints. Received: {names}")
    model, reference, count = None, None, 0
    remaining = iter(state_dicts)
    for (au, name), state_dict in zip(zip(aus, names, strict=True), remaining, strict=False):
        count += 1
        try:
            _check_option_fits(state_dict, "None")
        except ConversionError as error:
            raise ConversionError(
                f"{name}: {error} A HydraNet is built from RGB checkpoints."
            ) from None
        if model is None:
            model = HydraNet(num_aus=len(aus), aus=aus, **_architecture(state_dict, "None"))
            reference = {k: np.asarray(state_dict[k]) for k in _encoder_keys(state_dict)}
        else:
            _compare_encoders(reference, names[0], state_dict, name)
        module = f"AU{au}"
        load_slots(_hydranet_head_slots(model, str(au), module), [], {module: state_dict})
    if count != len(aus) or next(remaining, None) is not None:
        raise ValueError(
            f"Give one checkpoint per AU: {'more' if count == len(aus) else count} "
            f"checkpoints for {len(aus)} AUs ({aus})."
        )
    return model


def hydranet_to_state_dicts(model: keras.Model) -> dict[int | str, dict[str, np.ndarray]]:
    """The authors' per-AU checkpoints of a tfau `HydraNet`, by AU (each with the encoder)."""
    dumped = dump_slots(hydranet_slots(model), [])
    return {int(au) if au.isdigit() else au: dumped[f"AU{au}"] for au in hydranet_aus(model)}


# --------------------------------------------------------------------------------------------
# Files


def _pipeline_kwargs(model: keras.Model) -> dict[str, Any]:
    """The authors' test-time preprocessing as tfau pipeline options (`aunets_config`)."""
    return {"input_size": int(model.inputs[0].shape[1]), "normalization": NORMALIZATION}


def convert(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    au: int,
    of_option: str = "None",
) -> keras.Model:
    """Converts one authors' AUNet checkpoint into a ``.keras`` + ``model.json``.

    The ``.keras`` loads with ``safe_mode=True``; its ``model.json`` names the network
    (`MODEL_NAMES`), the AU, the 256 px face crops and the authors' test-time preprocessing
    (resize to 224, ``normalization="unit_imagenet_mean"``).

    Args:
        checkpoint: the ``.pth`` file (``.../AU<nn>/OF_<option>/emotionnet/<e>_<s>.pth``).
        out: the ``.keras`` file to write.
        au: the AU it detects (one of `AUS`).
        of_option: its optical-flow option (`OF_OPTIONS`). Defaults to ``"None"`` (RGB).

    Returns:
        The converted model.

    Raises:
        FileNotFoundError: no such checkpoint.
        ValueError: bad ``au`` / ``of_option`` / ``out``, an ``AU<nn>`` or ``OF_<option>``
            folder in the path that says otherwise, or a file that is not a checkpoint.
        ConversionError: the checkpoint is not an AUNet of ``of_option``.

    Example:
        >>> convert("fold_0/AU12/OF_None/emotionnet/02_1800.pth", "aunet_au12.keras", au=12)
    """
    from tfau.model_files import save_trained_model

    of_option, au = _check_of_option(of_option), _check_au(au)
    _check_out(out)
    path = os.fspath(checkpoint)
    _check_checkpoint_file(path)
    _check_path_hints(path, au, of_option)
    try:
        model = from_state_dict(load_state_dict(path), of_option)
    except ConversionError as error:
        raise ConversionError(f"{path}: {error}") from None
    save_trained_model(
        model,
        out,
        model_name=MODEL_NAMES[of_option],
        aus=[au],
        face_size=FACE_SIZE,
        pipeline_kwargs=_pipeline_kwargs(model),
        source={
            "converted_from": "BCV-Uniandes/AUNets",
            "checkpoint": os.path.abspath(path),
            "au": au,
            "of_option": of_option,
        },
    )
    return model


def convert_hydranet(
    checkpoints: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    aus: Sequence[int],
) -> keras.Model:
    """Converts per-AU RGB checkpoints that share one encoder into one `HydraNet` ``.keras``.

    The files are read one at a time; their ``model.features.*`` tensors must be equal.

    Args:
        checkpoints: one ``.pth`` per AU (``OF_None``), in the order of ``aus``.
        out: the ``.keras`` file to write.
        aus: their AUs (`AUS`, distinct): the ``"au"`` columns, in order.

    Returns:
        The converted model.

    Raises:
        FileNotFoundError: a checkpoint is missing.
        ValueError: counts that differ, bad or repeated AUs, a path whose ``AU<nn>`` or
            ``OF_<option>`` folder says otherwise.
        ConversionError: a checkpoint is not an RGB AUNet, or the encoders differ (the
            message names the first differing key and the two files).
    """
    from tfau.model_files import save_trained_model

    paths = [os.fspath(c) for c in checkpoints]
    aus = _check_hydranet_aus(aus)
    if len(paths) != len(aus):
        raise ValueError(
            f"Give one checkpoint per AU: {len(paths)} checkpoints for {len(aus)} AUs ({aus})."
        )
    _check_out(out)
    for path, au in zip(paths, aus, strict=True):
        _check_checkpoint_file(path)
        _check_path_hints(path, au, "None")
    model = hydranet_from_state_dicts((load_state_dict(p) for p in paths), aus, names=paths)
    save_trained_model(
        model,
        out,
        model_name="HydraNet",
        aus=aus,
        face_size=FACE_SIZE,
        pipeline_kwargs=_pipeline_kwargs(model),
        source={
            "converted_from": "BCV-Uniandes/AUNets",
            "checkpoints": [os.path.abspath(p) for p in paths],
            "aus": aus,
            "of_option": "None",
        },
    )
    return model
