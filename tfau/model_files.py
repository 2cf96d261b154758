"""Trained models on disk: a ``.keras`` file and the facts needed to use it.

A ``.keras`` file holds the network, not what it was trained on. ``save_trained_model`` writes
beside it a JSON sidecar (``model.keras`` -> ``model.json``) with the registry name, the AU
numbers of the ``"au"`` columns, the aligned face size of the training data, the training
RGB mean (networks normalised by mean subtraction) and the pipeline overrides; export
(`tfau.export`) and inference (`tfau.inference`) read it with `read_model_info`, so that a
user never has to repeat them. Every ``.keras`` file tfau reads goes through
`load_keras_model`, which says so when a file is truncated or corrupt.

Training writes these files and export, inference, conversion and the command line read
them: the module needs only Keras and `tfau.models`, so each of them imports it without
importing the others (CONTRIBUTING.md's map).
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a trained model needs beside its weights.

    Args:
        model_name: ``tfau.models`` registry name, e.g. ``"DRML"``.
        aus: AU numbers of the ``"au"`` output columns, in order.
        face_size: side of the aligned faces it was trained on (the dataset's size).
        mean: training RGB mean (0-255) for networks that subtract it, else None.
        pipeline_kwargs: overrides of the network's pipeline config (``input_size``...).
        source: where the weights come from when they were not trained by tfau (e.g. the
            authors' checkpoint a model was converted from, `tfau.convert`), else None.
    """

    model_name: str
    aus: tuple[int, ...]
    face_size: int
    mean: tuple[float, float, float] | None = None
    pipeline_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "model_name": self.model_name,
            "aus": list(self.aus),
            "face_size": self.face_size,
            "mean": None if self.mean is None else list(self.mean),
            "pipeline_kwargs": dict(self.pipeline_kwargs),
            "source": None if self.source is None else dict(self.source),
        }


def check_aus(model: keras.Model, aus: Sequence[int]) -> tuple[int, ...]:
    """``aus`` as integers, one per column of ``model``'s ``"au"`` output.

    A network without an ``"au"`` output (AUNets' view classifier, ``"view"`` only) takes
    none.

    Raises:
        ValueError: outputs that are not a dict, or AUs that do not match the columns.
    """
    if not isinstance(model.output, dict):
        raise ValueError(
            "Expected a tfau network, whose outputs are a dict ('au', 'view', ...). Received "
            f"outputs: {model.output}"
        )
    aus = tuple(int(au) for au in aus)
    if "au" in model.output:
        width = int(model.output["au"].shape[-1])
        expected = f"name the {width} columns of the model's 'au' output"
    else:
        width = 0
        expected = f"be empty: the model has no 'au' output (outputs: {sorted(model.output)})"
    if len(aus) != width:
        raise ValueError(f"`aus` must {expected}. Received {len(aus)} AUs: {list(aus)}")
    return aus


def info_path(model_path: str | os.PathLike[str]) -> Path:
    """The sidecar of ``model_path``: ``a/m.keras`` -> ``a/m.json``."""
    return Path(model_path).with_suffix(".json")


def save_trained_model(
    model: keras.Model,
    path: str | os.PathLike[str],
    *,
    model_name: str,
    aus: Sequence[int],
    face_size: int,
    mean: Sequence[float] | None = None,
    pipeline_kwargs: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> ModelInfo:
    """Saves ``model`` as ``path`` (``.keras``) and its `ModelInfo` beside it.

    Args:
        model: the trained network.
        path: the ``.keras`` file to write.
        model_name: its registry name.
        aus: the AU numbers of its ``"au"`` columns (none for AUNets' view classifier).
        face_size: the aligned face size of its training data.
        mean: the training RGB mean, for networks that subtract it.
        pipeline_kwargs: the pipeline overrides it was trained with.
        source: provenance of weights not trained by tfau (JSON-ready dict).

    Returns:
        The `ModelInfo` written to ``info_path(path)``.

    Raises:
        ValueError: when ``path`` does not end in ``.keras`` or ``aus`` does not match the
            width of the ``"au"`` output.

    Example:
        >>> save_trained_model(model, "runs/drml/model.keras", model_name="DRML",
        ...                    aus=tfau.aus.BP4D_AUS, face_size=200,
        ...                    mean=[121.0, 98.5, 90.2])  # doctest: +SKIP
    """
    if Path(path).suffix != ".keras":
        raise ValueError(f"`path` must end in '.keras'. Received: path={str(path)!r}")
    if isinstance(model.output, dict):
        check_aus(model, aus)
    info = ModelInfo(
        model_name=model_name,
        aus=tuple(int(a) for a in aus),
        face_size=int(face_size),
        mean=None if mean is None else tuple(float(m) for m in mean),
        pipeline_kwargs=dict(pipeline_kwargs or {}),
        source=None if source is None else dict(source),
    )
    os.makedirs(Path(path).parent, exist_ok=True)
    model.save(path)
    info_path(path).write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    return info


def read_model_info(model_path: str | os.PathLike[str]) -> ModelInfo | None:
    """The `ModelInfo` saved beside ``model_path``, or None when there is no sidecar.

    Raises:
        ValueError: when the sidecar exists but is not a valid model description.
    """
    path = info_path(model_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return ModelInfo(
            model_name=str(data["model_name"]),
            aus=tuple(int(a) for a in data["aus"]),
            face_size=int(data["face_size"]),
            mean=None if data.get("mean") is None else tuple(float(m) for m in data["mean"]),
            pipeline_kwargs=dict(data.get("pipeline_kwargs") or {}),
            source=None if data.get("source") is None else dict(data["source"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path} is not a tfau model description (expected JSON with model_name, aus, "
            f"face_size, mean, pipeline_kwargs): {error}"
        ) from error


class KerasFileError(ValueError):
    """A ``.keras`` file that is not a valid zip archive (truncated or corrupt)."""


def load_keras_model(path: str | os.PathLike[str], **kwargs: Any) -> keras.Model:
    """``keras.saving.load_model(path, **kwargs)`` with tfau's layers registered.

    A ``.keras`` file is a zip archive. Keras reports one that is not (a truncated copy, an
    interrupted save) as "File not found" although it exists; this names the file and what
    is wrong with it instead.

    Args:
        path: the ``.keras`` file (other formats go to Keras unchecked).
        **kwargs: ``keras.saving.load_model`` arguments (``compile``, ``safe_mode``...).

    Returns:
        The model.

    Raises:
        FileNotFoundError: no file at ``path``.
        KerasFileError: (a ``ValueError``) the file is not a valid ``.keras`` zip.

    Example:
        >>> model = load_keras_model("runs/drml/model.keras", compile=False)  # doctest: +SKIP
    """
    import tfau.models  # noqa: F401  (registers tfau's layers for loading)

    path = os.fspath(path)
    if not path.endswith(".keras"):
        return keras.saving.load_model(path, **kwargs)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No .keras file at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise KerasFileError(
            f"Cannot load {path!r} as a Keras model: not a valid .keras zip: its "
            f"{os.path.getsize(path)} bytes end without a zip directory (a truncated copy or "
            "an interrupted save?). Copy or save the model again."
        )
    try:
        return keras.saving.load_model(path, **kwargs)
    except zipfile.BadZipFile as error:
        raise KerasFileError(
            f"Cannot load {path!r} as a Keras model: not a valid .keras zip: {error} (a "
            "corrupt copy?). Copy or save the model again."
        ) from error
