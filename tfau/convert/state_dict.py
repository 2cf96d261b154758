"""PyTorch ``state_dict`` files <-> Keras variables: reading, layouts, and named slots.

A converter is a list of `Slot` (one torch tensor, or a slice of it, to one Keras variable or
a slice of it, with the layout change between them) and of `Fold` (a torch convolution bias
that tfau leaves out in front of a BatchNorm, folded into that BatchNorm's moving mean). The
same lists convert in both directions: `load_slots` fills a Keras model from the authors'
tensors and checks that every tensor was used or is named as ignored; `dump_slots` writes the
model back into the authors' key layout (round trips, and handing a tfau model to their code).

torch is needed only to read and write ``.pth`` files (``pip install "tfau[convert]"``);
everything else here is numpy.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: The command that installs what reading ``.pth`` files needs.
INSTALL_HINT = 'pip install "tfau[convert]"'


def require_torch() -> Any:
    """Imports torch, or says which command installs it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Reading the authors' PyTorch checkpoints (.pth) needs torch, which tfau does not "
            f"install by default. Install it with: {INSTALL_HINT}"
        ) from error
    return torch


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint file as float32 numpy arrays, by key.

    Reads ``torch.save(module.state_dict())`` files of any PyTorch version (the zip format
    and the legacy format of PyTorch < 1.6, Python 2 pickles included) without running code
    from the file (``weights_only``). A checkpoint that wraps its state dict
    (``{"state_dict": ...}``) is unwrapped.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a PyTorch checkpoint of tensors.
    """
    torch = require_torch()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such checkpoint file: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not its own
        raise ValueError(
            f"{path} is not a readable PyTorch checkpoint (expected a file written by "
            f"torch.save(model.state_dict())): {type(error).__name__}: {error}"
        ) from error
    if (
        isinstance(data, Mapping)
        and "state_dict" in data
        and isinstance(data["state_dict"], Mapping)
    ):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(torch.is_tensor(v) for v in data.values()):
        raise ValueError(
            f"{path} does not hold a state_dict (a mapping of names to tensors). Received: "
            f"{type(data).__name__}"
        )
    return {str(k): v.detach().to(torch.float32).numpy() for k, v in data.items()}


def save_state_dict(tensors: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """Writes ``tensors`` as a PyTorch ``state_dict`` file (``torch.save``)."""
    torch = require_torch()
    state = {}
    for key, value in tensors.items():
        value = np.asarray(value)
        state[key] = (
            torch.tensor(int(value))
            if key.endswith("num_batches_tracked")
            else torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(state, path)


# Layouts. PyTorch: conv weight (out, in, kh, kw), linear weight (out, in), tensors NCHW.
# Keras: conv kernel (kh, kw, in, out), dense kernel (in, out), tensors NHWC.


def identity(value: np.ndarray) -> np.ndarray:
    """No layout change (biases, BatchNorm vectors)."""
    return value


def conv_to_keras(weight: np.ndarray) -> np.ndarray:
    """PyTorch ``(out, in, kh, kw)`` -> Keras ``(kh, kw, in, out)``."""
    return np.transpose(weight, (2, 3, 1, 0))


def conv_to_torch(kernel: np.ndarray) -> np.ndarray:
    """Keras ``(kh, kw, in, out)`` -> PyTorch ``(out, in, kh, kw)``."""
    return np.transpose(kernel, (3, 2, 0, 1))


def dense_to_keras(weight: np.ndarray) -> np.ndarray:
    """PyTorch ``(out, in)`` -> Keras ``(in, out)``."""
    return np.transpose(weight)


dense_to_torch = dense_to_keras


def flatten_order(blocks: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """Row permutation from NCHW flatten order to NHWC flatten order.

    ``blocks`` lists the ``(channels, height, width)`` maps whose flattened features are
    concatenated (one map for a plain ``Flatten``). Row ``r`` of a Keras dense kernel that
    reads the NHWC features is row ``order[r]`` of the PyTorch weight's transpose.
    """
    order, offset = [], 0
    for channels, height, width in blocks:
        # NHWC position (h, w, c) holds NCHW feature c * H * W + h * W + w.
        nchw = np.arange(channels * height * width).reshape(channels, height, width)
        order.append(offset + np.transpose(nchw, (1, 2, 0)).reshape(-1))
        offset += channels * height * width
    return np.concatenate(order)


def dense_nchw_to_keras(blocks: Sequence[tuple[int, int, int]]) -> Callable:
    """A PyTorch linear weight reading NCHW-flattened ``blocks`` -> Keras kernel (NHWC)."""
    order = flatten_order(blocks)
    return lambda weight: np.transpose(weight)[order]


def dense_nchw_to_torch(blocks: Sequence[tuple[int, int, int]]) -> Callable:
    """Inverse of `dense_nchw_to_keras`."""
    inverse = np.argsort(flatten_order(blocks))
    return lambda kernel: np.transpose(kernel[inverse])


@dataclasses.dataclass(frozen=True)
class Slot:
    """One torch tensor <-> one Keras variable (or a slice along its last axis).

    Args:
        module: the torch file (module) the key lives in, e.g. ``"region_learning"``.
        key: the torch ``state_dict`` key.
        variable: the Keras variable.
        index: the part of ``variable``'s last axis the tensor fills (``slice(None)``: all).
        to_keras: torch layout -> Keras layout.
        to_torch: Keras layout -> torch layout.
    """

    module: str
    key: str
    variable: Any
    index: slice = dataclasses.field(default_factory=lambda: slice(None))
    to_keras: Callable[[np.ndarray], np.ndarray] = identity
    to_torch: Callable[[np.ndarray], np.ndarray] = identity


@dataclasses.dataclass(frozen=True)
class Fold:
    """A torch convolution bias that tfau leaves out before BatchNorms: folded into them.

    ``BN(x + b) = BN'(x)`` with the moving mean ``m' = m - b`` (exact in inference), for each
    BatchNorm the biased map feeds. ``targets`` are ``(moving_mean_variable, index, repeat)``:
    the bias is tiled ``repeat`` times (per-cell BatchNorms of the region layers hold the same
    channel once per cell) and subtracted from ``variable[..., index]``.
    """

    module: str
    key: str
    targets: tuple[tuple[Any, slice, int], ...]


class ConversionError(ValueError):
    """The checkpoint does not fit the network (wrong network, keys or shapes)."""


def _shape(value) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(value))


def load_slots(
    slots: Iterable[Slot],
    folds: Iterable[Fold],
    state_dicts: Mapping[str, Mapping[str, np.ndarray]],
    ignored: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Fills the slots' Keras variables from ``state_dicts`` (module -> key -> tensor).

    Every key of every module must be used by a slot or fold, or match one of the
    ``ignored[module]`` glob patterns (e.g. ``"*.num_batches_tracked"``).

    Raises:
        ConversionError: a key is missing, has another shape than the network's, or is
            left over; the message names the module, the key and both shapes.
    """
    slots, folds = list(slots), list(folds)
    values: dict[int, np.ndarray] = {}
    variables: dict[int, Any] = {}
    used: dict[str, set[str]] = {module: set() for module in state_dicts}

    def tensor(module: str, key: str) -> np.ndarray:
        if module not in state_dicts:
            raise ConversionError(f"No tensors for module {module!r}.")
        if key not in state_dicts[module]:
            raise ConversionError(
                f"Module {module!r} has no tensor {key!r}: the checkpoint is not of this network "
                f"or configuration ({len(state_dicts[module])} keys, e.g. "
                f"{sorted(state_dicts[module])[:3]})."
            )
        used[module].add(key)
        return np.asarray(state_dicts[module][key], np.float32)

    for slot in slots:
        ident = id(slot.variable)
        if ident not in values:
            variables[ident] = slot.variable
            values[ident] = np.array(slot.variable.numpy(), np.float32)
        target = values[ident]
        value = slot.to_keras(tensor(slot.module, slot.key))
        part = target[..., slot.index]
        if _shape(value) != _shape(part):
            raise ConversionError(
                f"{slot.module}: {slot.key} has shape {_shape(state_dicts[slot.module][slot.key])}"
                f", which does not fit {slot.variable.path} (expected {_shape(part)} in Keras "
                "layout): the checkpoint is of another network size or configuration."
            )
        target[..., slot.index] = value
    for fold in folds:
        bias = tensor(fold.module, fold.key)
        for variable, index, repeat in fold.targets:
            ident = id(variable)
            if ident not in values:
                variables[ident] = variable
                values[ident] = np.array(variable.numpy(), np.float32)
            part = values[ident][..., index]
            tiled = np.tile(bias, repeat)
            if _shape(tiled) != _shape(part):
                raise ConversionError(
                    f"{fold.module}: bias {fold.key} of shape {_shape(bias)} does not fit "
                    f"{variable.path} (expected {_shape(part)} after x{repeat})."
                )
            values[ident][..., index] = part - tiled
    ignored = ignored or {}
    for module, tensors in state_dicts.items():
        patterns = ignored.get(module, ())
        left = [
            k
            for k in tensors
            if k not in used[module] and not any(fnmatch.fnmatchcase(k, p) for p in patterns)
        ]
        if left:
            raise ConversionError(
                f"Module {module!r} has {len(left)} tensors this network does not use, e.g. "
                f"{sorted(left)[:5]}: the checkpoint is of another network or configuration."
            )
    for ident, variable in variables.items():
        variable.assign(values[ident])


def dump_slots(slots: Iterable[Slot], folds: Iterable[Fold]) -> dict[str, dict[str, np.ndarray]]:
    """The authors' tensors of the slots' Keras variables, by module and key.

    Folded biases are written as zeros (tfau keeps them in the moving means), so
    ``load_slots(dump_slots(...))`` restores every variable exactly.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for slot in slots:
        value = np.asarray(slot.variable.numpy(), np.float32)[..., slot.index]
        out.setdefault(slot.module, {})[slot.key] = slot.to_torch(value)
    for fold in folds:
        variable, index, repeat = fold.targets[0]
        size = np.asarray(variable.numpy())[..., index].shape[-1] // repeat
        out.setdefault(fold.module, {})[fold.key] = np.zeros(size, np.float32)
    return out
