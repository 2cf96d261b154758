"""JAA-Net's released PyTorch models (ZhiwenShao/PyTorch-JAANet) as a tfau `JAANet`.

The authors save one ``state_dict`` per module and epoch in a snapshot folder:
``region_learning_<epoch>.pth``, ``align_net_...``, ``local_attention_refine_...``,
``local_au_net_...``, ``global_au_feat_...`` and ``au_net_...``. Version 1 (ECCV 2018) and
version 2 (IJCV 2021) files differ only in ``local_au_net``, where v2 adds per-AU local heads
``local_aus_output.*`` that its main AU output does not use: both convert to the same network.

What the conversion takes care of, so that the tfau model computes what the authors' code
computes (tested against their modules, ``experiments/benchmarks/convert_fidelity.py``):

- the network is built as their code runs: attention centres at ``round(x * 52 / 176)``
  (``centre_rounding="round"``), local AU branches averaged (``local_reduction="mean"``),
  BatchNorm epsilon 1e-5, refinement target by nearest resize;
- convolution biases in front of a BatchNorm (the region layers' first convolutions, the
  refinement's first three) are folded into that BatchNorm's moving mean;
- PyTorch flattens NCHW maps: the rows of ``align_fc1`` and ``au_fc1`` are reordered for
  Keras' NHWC ``Flatten``;
- the per-cell BatchNorms and convolutions of the region layers (``bns.<k>`` /
  ``convs.<k>``, cell ``k = row * grid + column``) and the per-AU modules become slices of
  tfau's grouped variables.

Test-time preprocessing (the authors' ``pre_process.image_test``): the 200 x 200 aligned face,
centre crop 176, ``(x / 255 - 0.5) / 0.5``, which is tfau's JAA-Net pipeline at test time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tfau.aus import DATASET_AUS
from tfau.convert.state_dict import (
    ConversionError,
    Fold,
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
from tfau.models.jaanet import JAANet

#: The six module files of a snapshot, in the authors' order.
MODULES: tuple[str, ...] = (
    "region_learning",
    "align_net",
    "local_attention_refine",
    "local_au_net",
    "global_au_feat",
    "au_net",
)
#: The authors' test crop of the 200 x 200 aligned faces.
CROP_SIZE = 176
FACE_SIZE = 200
#: Keys that carry no weights of the converted network.
IGNORED: dict[str, tuple[str, ...]] = {
    module: ("*.num_batches_tracked",)
    + (("local_aus_output.*",) if module == "local_au_net" else ())
    for module in MODULES
}
# Layer indices of the convolutions in the authors' HLFeatExtractor (nn.Sequential: conv, BN,
# ReLU, conv, BN, ReLU, pool, ...), by (stage, conv) of tfau's apply_conv_stages.
_HL_CONVS = (((1, 1), 0), ((1, 2), 3), ((2, 1), 7), ((2, 2), 10), ((3, 1), 14), ((3, 2), 17))
# The refinement's convolutions in each AU's nn.Sequential.
_REFINE_CONVS = (0, 3, 6, 9)
_FILE = re.compile(r"^(?P<module>[a-z_]+)_(?P<epoch>\d+)\.pth$")


def _conv(module: str, key: str, layer_kernel, index: slice = slice(None)) -> Slot:
    return Slot(module, key, layer_kernel, index, conv_to_keras, conv_to_torch)


def _batch_norm(module: str, key: str, bn: Any, index: slice = slice(None)) -> list[Slot]:
    """``bn`` has ``gamma``, ``beta``, ``moving_mean``, ``moving_variance`` (Keras names)."""
    return [
        Slot(module, f"{key}.weight", bn.gamma, index),
        Slot(module, f"{key}.bias", bn.beta, index),
        Slot(module, f"{key}.running_mean", bn.moving_mean, index),
        Slot(module, f"{key}.running_var", bn.moving_variance, index),
    ]


def _feature_extractor(model: keras.Model, module: str, key: str, name: str) -> list[Slot]:
    """The authors' ``HLFeatExtractor`` (alignment / global module) -> ``name_<s>_<c>_*``."""
    slots = []
    for (stage, conv), index in _HL_CONVS:
        layer = model.get_layer(f"{name}_{stage}_{conv}_conv")
        slots.append(_conv(module, f"{key}.{index}.weight", layer.kernel))
        slots.append(Slot(module, f"{key}.{index}.bias", layer.bias))
        bn = model.get_layer(f"{name}_{stage}_{conv}_bn")
        slots += _batch_norm(module, f"{key}.{index + 1}", bn)
    return slots


def _region_layer(layer: Any, module: str, key: str) -> tuple[list[Slot], list[Fold]]:
    """One ``HierarchicalMultiScaleRegionLayer`` -> a `HierarchicalMultiScaleRegion`."""
    slots = [_conv(module, f"{key}.conv.weight", layer.conv.kernel)]
    first = layer.patch_convolutions[0]
    # The first convolution's output feeds the level-1 cell BatchNorms and the final one.
    fold = Fold(
        module,
        f"{key}.conv.bias",
        (
            (first.batch_norm.moving_mean, slice(None), first.grid_size**2),
            (layer.batch_norm.moving_mean, slice(None), 1),
        ),
    )
    for level, patches in enumerate(layer.patch_convolutions, start=1):
        channels, filters = patches.kernel.shape[2], patches.filters
        branch = f"{key}.local_conv_branch{level}"
        for cell in range(patches.grid_size**2):
            bn_index = slice(cell * channels, (cell + 1) * channels)
            out_index = slice(cell * filters, (cell + 1) * filters)
            slots += _batch_norm(module, f"{branch}.bns.{cell}", patches.batch_norm, bn_index)
            slots.append(_conv(module, f"{branch}.convs.{cell}.weight", patches.kernel, out_index))
            slots.append(Slot(module, f"{branch}.convs.{cell}.bias", patches.bias, out_index))
    slots += _batch_norm(module, f"{key}.bn", layer.batch_norm)
    return slots, [fold]


def _refinement(layer: Any, module: str) -> tuple[list[Slot], list[Fold]]:
    """``LocalAttentionRefine`` (one nn.Sequential per AU) -> `AttentionRefinement`."""
    slots, folds = [], []
    width = layer.width
    for au in range(layer.num_aus):
        key = f"local_aus_attention.{au}"
        for conv, index in enumerate(_REFINE_CONVS):
            out = width if conv < len(_REFINE_CONVS) - 1 else 1
            units = slice(au * out, (au + 1) * out)
            slots.append(_conv(module, f"{key}.{index}.weight", layer.kernels[conv], units))
            if conv < len(_REFINE_CONVS) - 1:
                bn = layer.batch_norms[conv]
                folds.append(Fold(module, f"{key}.{index}.bias", ((bn.moving_mean, units, 1),)))
                slots += _batch_norm(module, f"{key}.{index + 1}", bn, units)
            else:
                slots.append(Slot(module, f"{key}.{index}.bias", layer.biases[conv], units))
    return slots, folds


class _BranchNorm:
    """One BatchNorm of `LocalAUBranches` under Keras' attribute names."""

    def __init__(self, layer: Any, index: int) -> None:
        self.gamma = layer.gammas[index]
        self.beta = layer.betas[index]
        self.moving_mean = layer.moving_means[index]
        self.moving_variance = layer.moving_variances[index]


def _local_branches(layer: Any, module: str) -> list[Slot]:
    """``LocalAUNetv1/v2``'s ``local_aus_branch.<a>`` -> `LocalAUBranches` (AU-major units)."""
    slots = []
    for au in range(layer.num_aus):
        key = f"local_aus_branch.{au}.feat_extract"
        for conv, (_, index) in enumerate(_HL_CONVS):
            filters = layer.kernels[conv].shape[-1] // layer.num_aus
            units = slice(au * filters, (au + 1) * filters)
            slots.append(_conv(module, f"{key}.{index}.weight", layer.kernels[conv], units))
            slots.append(Slot(module, f"{key}.{index}.bias", layer.biases[conv], units))
            slots += _batch_norm(module, f"{key}.{index + 1}", _BranchNorm(layer, conv), units)
    return slots


def _flat_shape(model: keras.Model, name: str) -> tuple[int, int, int]:
    """(channels, height, width) of the map a Flatten layer reads."""
    _, height, width, channels = model.get_layer(name).input.shape
    return int(channels), int(height), int(width)


def _head(
    model: keras.Model, module: str, key: str, name: str, blocks: list[tuple[int, int, int]]
) -> list[Slot]:
    """Two linear layers (``key.0``, ``key.1``) -> ``name_fc1``, ``name_fc2``; the first reads
    the NCHW-flattened ``blocks`` (channels, height, width)."""
    fc1, fc2 = model.get_layer(f"{name}_fc1"), model.get_layer(f"{name}_fc2")
    return [
        Slot(
            module,
            f"{key}.0.weight",
            fc1.kernel,
            to_keras=dense_nchw_to_keras(blocks),
            to_torch=dense_nchw_to_torch(blocks),
        ),
        Slot(module, f"{key}.0.bias", fc1.bias),
        Slot(module, f"{key}.1.weight", fc2.kernel, slice(None), dense_to_keras, dense_to_torch),
        Slot(module, f"{key}.1.bias", fc2.bias),
    ]


def jaanet_slots(model: keras.Model, prefix: str = "jaanet") -> tuple[list[Slot], list[Fold]]:
    """Every tensor of the authors' six modules <-> ``model``'s variables.

    ``model`` is a `tfau.models.JAANet` with ``region="hierarchical"`` and ``refinement=True``
    (the authors' network).
    """
    slots, folds = [], []
    for block, index in ((1, 0), (2, 2)):
        layer = model.get_layer(f"{prefix}_region{block}_hmr")
        more_slots, more_folds = _region_layer(layer, "region_learning", f"multiscale_feat.{index}")
        slots += more_slots
        folds += more_folds
    align = _flat_shape(model, f"{prefix}_align_flatten")
    slots += _feature_extractor(model, "align_net", "align_feat.feat_extract", f"{prefix}_align")
    slots += _head(model, "align_net", "align_output", f"{prefix}_align", [align])
    more_slots, more_folds = _refinement(
        model.get_layer(f"{prefix}_attention_refinement"), "local_attention_refine"
    )
    slots += more_slots
    folds += more_folds
    slots += _local_branches(model.get_layer(f"{prefix}_local"), "local_au_net")
    slots += _feature_extractor(model, "global_au_feat", "feat_extract", f"{prefix}_global")
    # The AU head reads concat(alignment, global, local) features, each flattened NCHW.
    blocks = [
        align,
        _flat_shape(model, f"{prefix}_global_flatten"),
        _flat_shape(model, f"{prefix}_local_flatten"),
    ]
    slots += _head(model, "au_net", "au_output", f"{prefix}_au", blocks)
    return slots, folds


def snapshot_epochs(snapshot_dir: str | os.PathLike[str]) -> list[int]:
    """The epochs for which ``snapshot_dir`` holds all six module files, ascending."""
    found: dict[int, set[str]] = {}
    for path in Path(snapshot_dir).iterdir():
        match = _FILE.match(path.name)
        if match and match["module"] in MODULES:
            found.setdefault(int(match["epoch"]), set()).add(match["module"])
    return sorted(epoch for epoch, modules in found.items() if len(modules) == len(MODULES))


def read_snapshot(
    snapshot_dir: str | os.PathLike[str], epoch: int | None = None
) -> tuple[int, dict[str, dict[str, np.ndarray]]]:
    """The six module state dicts of one epoch of a snapshot folder.

    Args:
        snapshot_dir: the authors' snapshot folder (``<module>_<epoch>.pth`` files).
        epoch: which epoch. Defaults to the last one with all six files.

    Returns:
        ``(epoch, {module: {key: array}})``.

    Raises:
        FileNotFoundError: no such folder, no complete epoch, or a module file of ``epoch``
            is missing (the message lists the epochs that are complete).
    """
    folder = Path(snapshot_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such snapshot folder: {folder}")
    epochs = snapshot_epochs(folder)
    if epoch is None:
        if not epochs:
            raise FileNotFoundError(
                f"{folder} holds no complete JAA-Net snapshot: expected the six files "
                f"{', '.join(m + '_<epoch>.pth' for m in MODULES)}."
            )
        epoch = epochs[-1]
    missing = [m for m in MODULES if not (folder / f"{m}_{epoch}.pth").is_file()]
    if missing:
        raise FileNotFoundError(
            f"Epoch {epoch} of {folder} lacks {', '.join(f'{m}_{epoch}.pth' for m in missing)}. "
            f"Complete epochs there: {epochs or 'none'}."
        )
    return epoch, {m: load_state_dict(folder / f"{m}_{epoch}.pth") for m in MODULES}


def _architecture(state_dicts: Mapping[str, Mapping[str, np.ndarray]]) -> tuple[int, int, str]:
    """(c, number of AUs, version) read from the tensors' shapes."""
    try:
        c = state_dicts["region_learning"]["multiscale_feat.0.conv.weight"].shape[0] // 4
        num_aus = state_dicts["au_net"]["au_output.1.weight"].shape[0] // 2
    except KeyError as error:
        raise ConversionError(
            f"Not a JAA-Net snapshot: {error.args[0]!r} is missing (region_learning must hold "
            "multiscale_feat.0.conv.weight and au_net au_output.1.weight)."
        ) from None
    version = (
        "v2"
        if any(k.startswith("local_aus_output.") for k in state_dicts["local_au_net"])
        else "v1"
    )
    return int(c), int(num_aus), version


def build_authors_jaanet(
    aus: Sequence[int], c: int = 8, input_size: int = CROP_SIZE
) -> keras.Model:
    """A `JAANet` configured as the authors' code runs (centres, averaging, epsilon)."""
    return JAANet(
        input_size=input_size,
        aus=tuple(aus),
        c=c,
        d=64 * c,
        centre_rounding="round",
        local_reduction="mean",
        attention_target="nearest",
        bn_epsilon=1e-5,
    )


def from_state_dicts(
    state_dicts: Mapping[str, Mapping[str, np.ndarray]],
    dataset: str = "bp4d",
    input_size: int = CROP_SIZE,
) -> keras.Model:
    """A tfau `JAANet` with the weights of the authors' six module state dicts.

    Args:
        state_dicts: ``{module: {key: array}}`` for the six `MODULES`.
        dataset: ``"bp4d"`` (12 AUs) or ``"disfa"`` (8 AUs): the AUs of the outputs, which
            also place the attention maps.
        input_size: the crop the model was trained on. Defaults to 176 (the authors').

    Raises:
        ValueError: unknown dataset, or a module missing.
        ConversionError: the tensors are not those of a JAA-Net of this dataset.
    """
    if dataset not in DATASET_AUS:
        raise ValueError(f"`dataset` must be one of {sorted(DATASET_AUS)}. Received: {dataset!r}")
    missing = [m for m in MODULES if m not in state_dicts]
    if missing:
        raise ValueError(f"The JAA-Net state dicts lack the modules {missing}.")
    c, num_aus, _ = _architecture(state_dicts)
    aus = DATASET_AUS[dataset]
    if num_aus != len(aus):
        other = [name for name, a in DATASET_AUS.items() if len(a) == num_aus]
        raise ConversionError(
            f"The checkpoint predicts {num_aus} AUs, but dataset={dataset!r} has {len(aus)} "
            f"({aus})" + (f": convert it with dataset={other[0]!r}." if other else ".")
        )
    model = build_authors_jaanet(aus, c, input_size)
    slots, folds = jaanet_slots(model)
    load_slots(slots, folds, state_dicts, IGNORED)
    return model


def to_state_dicts(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """The authors' six module state dicts (v1 keys) of a tfau `JAANet` built as
    `build_authors_jaanet` builds it (``num_batches_tracked`` included, as PyTorch saves)."""
    out = dump_slots(*jaanet_slots(model))
    for tensors in out.values():
        for key in [k for k in tensors if k.endswith(".running_var")]:
            tensors[key.replace(".running_var", ".num_batches_tracked")] = np.zeros((), np.float32)
    return out


def convert(
    snapshot_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    epoch: int | None = None,
    dataset: str = "bp4d",
) -> keras.Model:
    """Converts one epoch of the authors' snapshot folder into a ``.keras`` + ``model.json``.

    The ``.keras`` loads with ``safe_mode=True``; its sidecar names the AUs, the 200 x 200
    aligned faces and the 176 crop, so ``tfau export`` and ``tfau predict`` need no option.

    Returns:
        The converted model.
    """
    from tfau.model_files import save_trained_model

    epoch, state_dicts = read_snapshot(snapshot_dir, epoch)
    model = from_state_dicts(state_dicts, dataset)
    _, _, version = _architecture(state_dicts)
    save_trained_model(
        model,
        out,
        model_name="JAANet",
        aus=DATASET_AUS[dataset],
        face_size=FACE_SIZE,
        pipeline_kwargs={"input_size": CROP_SIZE, "source_size": FACE_SIZE},
        source={
            "converted_from": "ZhiwenShao/PyTorch-JAANet",
            "version": version,
            "snapshot_dir": os.path.abspath(snapshot_dir),
            "epoch": epoch,
            "dataset": dataset,
        },
    )
    return model
