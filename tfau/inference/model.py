"""A trained AU network as a batched function of aligned faces: ``.keras`` file or SavedModel.

`load_model` reads either a ``.keras`` file saved from a tfau network or a SavedModel folder
written by `tfau.export.export_model` (``tfau export``), and returns an `AUModel` that takes
uint8 aligned faces and returns AU probabilities (and, for JAA-Net, 49 landmarks in the faces'
pixels). E-Net and EAC-Net also take each face's 49 landmarks in the faces' pixels; AUNets'
optical-flow fusions take the previous frame cut out with the same alignment and get the
flow image of the training pipeline (`tfau.data.preprocess_example`): from a ``.keras`` file
in one graph (OpenCV's DIS through ``tf.numpy_function``), from an export between its
``"flow_frames"`` and ``"faces"`` signatures (`tfau.export`). Both paths run the same test-time
preprocessing: the SavedModel carries it in its ``"faces"`` signature; a ``.keras`` model is
wrapped in that very serving code (`tfau.export.saved_model`), fed by the network's
`tfau.data` pipeline config, and compiled once with ``tf.function``.

Which AUs a model predicts:
    A SavedModel names them (``tfau_export.json``), and so does the JSON sidecar that tfau's
    training writes beside a ``.keras`` file (``model.keras`` -> ``model.json``, with the
    registry name, face size, training mean and pipeline overrides); asking for a subset
    selects those columns, asking for an AU it was not trained on is an error. A bare
    ``.keras`` file holds no AU names: pass ``aus`` (as many as the model's outputs, in
    order); without it, 12 outputs are read as BP4D's 12 AUs and 8 as DISFA's 8, and any
    other width is an error.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tfau.aus import BP4D_AUS, DISFA_AUS, au_names
from tfau.export.saved_model import resolve_model_name
from tfau.faces.alignment import DEFAULT_BOX_ENLARGE, DEFAULT_OUTPUT_SIZE

#: The AUs of a model without AU names, by its number of outputs.
DEFAULT_AUS = {len(BP4D_AUS): BP4D_AUS, len(DISFA_AUS): DISFA_AUS}


@dataclasses.dataclass
class AUModel:
    """A loaded AU network: aligned uint8 faces in, AU probabilities out.

    Attributes:
        model_name: ``tfau.models`` registry name (e.g. ``"DRML"``).
        aus: the AU numbers of the returned columns.
        face_size: side of the aligned faces it takes.
        box_enlarge: JAA-Net alignment box over the key points' extent.
        threshold: probability from which an AU counts as occurring.
        predicts_landmarks: True when it also returns 49 landmarks (JAA-Net).
        source: ``"keras"``, ``"saved_model"`` or ``"litert"``.
        path: the file or folder it was loaded from.
        function: ``uint8 (B, S, S, 3) -> {"au": (B, A), ["landmarks": (B, 49, 2)]}`` numpy;
            with keyword ``landmarks`` and/or ``previous`` when the network needs them.
        needs_landmarks: True when it takes the faces' 49 landmarks (E-Net, EAC-Net).
        needs_flow: True when it takes the previous frame for optical flow (AUNets' fusions).
    """

    model_name: str
    aus: tuple[int, ...]
    face_size: int
    box_enlarge: float
    threshold: float
    predicts_landmarks: bool
    source: str
    path: str
    function: Callable[..., dict[str, np.ndarray]]
    needs_landmarks: bool = False
    needs_flow: bool = False

    def __call__(
        self,
        faces: np.ndarray,
        landmarks: np.ndarray | None = None,
        previous: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Runs the network on ``(B, S, S, 3)`` uint8 aligned faces.

        Args:
            faces: ``(B, S, S, 3)`` uint8 aligned faces.
            landmarks: ``(B, 49, 2)`` float32 landmarks in the faces' pixels; required by
                (and only taken by) networks with a landmark input.
            previous: ``(B, S, S, 3)`` uint8 previous frames cut out with each face's
                alignment (the face itself where there is none: zero flow, as in training);
                required by (and only taken by) optical-flow networks.
        """
        faces = np.asarray(faces)
        expected = (self.face_size, self.face_size, 3)
        if faces.ndim != 4 or faces.shape[1:] != expected or faces.dtype != np.uint8:
            raise ValueError(
                f"Expected uint8 aligned faces of shape (batch, {self.face_size}, "
                f"{self.face_size}, 3). Received: shape={faces.shape}, dtype={faces.dtype}"
            )
        inputs: dict[str, np.ndarray] = {}
        if self.needs_landmarks:
            if landmarks is None:
                raise ValueError(
                    f"{self.model_name} takes each face's 49 landmarks: pass `landmarks`, "
                    "shape (batch, 49, 2), in the aligned faces' pixels."
                )
            landmarks = np.asarray(landmarks, np.float32)
            if landmarks.shape != (len(faces), 49, 2):
                raise ValueError(
                    f"Expected landmarks of shape ({len(faces)}, 49, 2). "
                    f"Received: shape={landmarks.shape}"
                )
            inputs["landmarks"] = landmarks
        if self.needs_flow:
            if previous is None:
                raise ValueError(
                    f"{self.model_name} takes optical flow: pass `previous`, the previous "
                    "frames cut out with each face's alignment (the face itself: zero flow)."
                )
            previous = np.asarray(previous)
            if previous.shape != faces.shape or previous.dtype != np.uint8:
                raise ValueError(
                    f"Expected uint8 previous faces of shape {faces.shape}. "
                    f"Received: shape={previous.shape}, dtype={previous.dtype}"
                )
            inputs["previous"] = previous
        return self.function(faces, **inputs)

    @property
    def au_names(self) -> list[str]:
        """``["AU01", "AU02", ...]``."""
        return au_names(self.aus)


def _select_aus(
    model_aus: Sequence[int] | None, width: int, asked: Sequence[int] | None, path: str
) -> tuple[tuple[int, ...], list[int]]:
    """(AUs returned, column indices of the model output) for the AUs asked."""
    if model_aus is None:
        if asked is None:
            if width not in DEFAULT_AUS:
                raise ValueError(
                    f"The model {path!r} predicts {width} AUs and a .keras file does not name "
                    f"them: pass `aus` (--aus), the {width} AU numbers it was trained on, in "
                    "order. Without them only 12 outputs (BP4D's AUs) or 8 (DISFA's) are "
                    "understood."
                )
            return DEFAULT_AUS[width], list(range(width))
        asked = tuple(int(au) for au in asked)
        if len(asked) != width:
            raise ValueError(
                f"The model {path!r} was trained on other AUs than asked: it predicts {width} "
                f"AUs, asked for {len(asked)}: {list(asked)}. Pass the {width} AUs it was "
                "trained on, in order."
            )
        return asked, list(range(width))
    model_aus = tuple(int(au) for au in model_aus)
    if asked is None:
        return model_aus, list(range(len(model_aus)))
    asked = tuple(int(au) for au in asked)
    missing = [au for au in asked if au not in model_aus]
    if missing:
        raise ValueError(
            f"The model {path!r} was trained on other AUs than asked: it predicts AUs "
            f"{list(model_aus)}, asked for {list(asked)}; not predicted: {missing}."
        )
    return asked, [model_aus.index(au) for au in asked]


def _load_saved_model(path: str, aus: Sequence[int] | None, threshold: float | None) -> AUModel:
    import tensorflow as tf

    from tfau.export import FACES_SIGNATURE, FLOW_FRAMES_SIGNATURE, METADATA_FILE, flow_input

    metadata_path = os.path.join(path, METADATA_FILE)
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise ValueError(
            f"Expected a .keras file or a SavedModel folder exported by `tfau export`. "
            f"Received: {path!r}, a folder without saved_model.pb."
        )
    if not os.path.exists(metadata_path):
        raise ValueError(
            f"The SavedModel {path!r} has no {METADATA_FILE}: it was not written by "
            "`tfau export` (which records the AUs and face size). Export it with tfau."
        )
    with open(metadata_path) as file:
        metadata = json.load(file)
    needs_landmarks = "landmarks" in metadata["signatures"][FACES_SIGNATURE]
    needs_flow = FLOW_FRAMES_SIGNATURE in metadata["signatures"]
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures[FACES_SIGNATURE]
    selected_aus, columns = _select_aus(metadata["aus"], len(metadata["aus"]), aus, path)
    predicts_landmarks = "landmarks" in signature.structured_outputs

    def function(
        faces: np.ndarray, landmarks: np.ndarray | None = None, previous: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        inputs = {"images": tf.constant(faces)}
        if landmarks is not None:
            inputs["landmarks"] = tf.constant(landmarks, tf.float32)
        if previous is not None:
            # OpenCV's flow of the pairs at the network's size, between two graph calls.
            inputs["flow"] = tf.constant(
                flow_input(
                    loaded.signatures[FLOW_FRAMES_SIGNATURE],
                    inputs["images"],
                    tf.constant(previous),
                    metadata["pipeline"]["flow_preset"],
                )
            )
        outputs = signature(**inputs)
        result = {"au": outputs["au_probabilities"].numpy()[:, columns]}
        if predicts_landmarks:
            result["landmarks"] = outputs["landmarks"].numpy()
        return result

    function.keep_alive = loaded  # type: ignore[attr-defined]
    return AUModel(
        model_name=metadata["model_name"],
        aus=selected_aus,
        face_size=int(metadata["face_size"]),
        box_enlarge=float(metadata["box_enlarge"]),
        threshold=float(metadata["threshold"] if threshold is None else threshold),
        predicts_landmarks=predicts_landmarks,
        source="saved_model",
        path=path,
        function=function,
        needs_landmarks=needs_landmarks,
        needs_flow=needs_flow,
    )


def from_keras(
    model: Any,
    *,
    aus: Sequence[int] | None = None,
    model_name: str | None = None,
    mean: Sequence[float] | None = None,
    face_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    threshold: float | None = None,
    path: str = "<in memory>",
    trained_aus: Sequence[int] | None = None,
    **config_overrides: Any,
) -> AUModel:
    """Wraps a tfau ``keras.Model`` with the test-time preprocessing of its pipeline.

    Args:
        model: a tfau network (named inputs, ``"au"`` output).
        aus: the AUs to predict: without ``trained_aus``, the AUs of its output columns (see
            the module docstring for the defaults); with it, a subset of ``trained_aus``.
        model_name: its registry name; defaults to the one matching ``model.name``.
        mean: RGB training mean (0-255), required by DRML (mean subtraction).
        face_size: side of the aligned faces. Defaults to 200.
        box_enlarge: alignment box over the key points' extent. Defaults to 2.9.
        threshold: occurrence threshold. Defaults to 0.5.
        path: where it came from (for messages).
        trained_aus: the AUs of its output columns when known (the model's sidecar written
            by `tfau.model_files.save_trained_model`).
        **config_overrides: its pipeline config overrides (e.g. ``input_size``).

    Returns:
        An `AUModel`.
    """
    import tensorflow as tf

    from tfau.export.saved_model import ServingFunctions, infer_config

    outputs = model.output if isinstance(model.output, dict) else {}
    if "au" not in outputs:
        raise ValueError(
            f"Expected a tfau AU model with an 'au' output. Received {path!r} with outputs: "
            f"{sorted(outputs) if outputs else model.output}"
        )
    model_name = resolve_model_name(model_name, model.name)
    config = infer_config(model, model_name, face_size, **config_overrides)
    if config.normalization == "mean" and mean is None:
        raise ValueError(
            f"{model_name} subtracts the training mean: pass `mean` (--mean R G B, 0-255), "
            "the RGB mean of its training faces."
        )
    threshold = 0.5 if threshold is None else float(threshold)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must be in (0, 1). Received: threshold={threshold}")
    width = int(outputs["au"].shape[-1])
    if trained_aus is not None and len(trained_aus) != width:
        raise ValueError(
            f"The model {path!r} has {width} AU outputs but its description names "
            f"{len(trained_aus)} AUs: {list(trained_aus)}"
        )
    selected_aus, columns = _select_aus(trained_aus, width, aus, path)
    serving = ServingFunctions(model, config, selected_aus, face_size, box_enlarge, threshold, mean)
    predicts_landmarks = "landmarks" in outputs
    needs_landmarks = "landmarks" in config.inputs
    needs_flow = "flow" in config.inputs
    faces_spec = tf.TensorSpec([None, face_size, face_size, 3], tf.uint8)
    spec = {"images": faces_spec}
    if needs_landmarks:
        spec["landmarks"] = tf.TensorSpec([None, 49, 2], tf.float32)
    if needs_flow:
        spec["previous"] = faces_spec

    @tf.function(input_signature=[spec], reduce_retracing=True)
    def serve(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        result = serving.serve_faces(
            inputs["images"], inputs.get("landmarks"), previous=inputs.get("previous")
        )
        return {k: result[k] for k in ("au_probabilities", "landmarks") if k in result}

    def function(
        faces: np.ndarray, landmarks: np.ndarray | None = None, previous: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        inputs = {"images": tf.constant(faces)}
        if needs_landmarks:
            inputs["landmarks"] = tf.constant(landmarks, tf.float32)
        if needs_flow:
            inputs["previous"] = tf.constant(previous)
        served = serve(inputs)
        result = {"au": served["au_probabilities"].numpy()[:, columns]}
        if predicts_landmarks:
            result["landmarks"] = served["landmarks"].numpy()
        return result

    return AUModel(
        model_name=model_name,
        aus=selected_aus,
        face_size=face_size,
        box_enlarge=box_enlarge,
        threshold=threshold,
        predicts_landmarks=predicts_landmarks,
        source="keras",
        path=path,
        function=function,
        needs_landmarks=needs_landmarks,
        needs_flow=needs_flow,
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    aus: Sequence[int] | None = None,
    model_name: str | None = None,
    mean: Sequence[float] | None = None,
    face_size: int | None = None,
    threshold: float | None = None,
) -> AUModel:
    """Loads a ``.keras`` file, a `tfau export` SavedModel folder or ``.tflite`` as an `AUModel`.

    A ``.keras`` file saved by tfau's training (`tfau.model_files`) has a JSON
    sidecar (``model.json``) with its registry name, AUs, face size, training mean and
    pipeline overrides; they are the defaults here, and ``aus`` then selects among its AUs.

    Args:
        path: ``model.keras``, the exported SavedModel folder or ``.tflite`` file
            (`tfau.inference.litert.load_litert`).
        aus: AUs to predict. Exported model or ``.keras`` with a sidecar: a subset of its AUs
            (default: all). Bare ``.keras``: the AUs of its outputs in order (default:
            BP4D's 12 or DISFA's 8 by output width).
        model_name: ``.keras`` only: registry name (default: sidecar, else the model's name).
        mean: ``.keras`` only: RGB training mean for networks that subtract it (DRML;
            default: the sidecar's).
        face_size: ``.keras`` only: side of the aligned faces (default: the sidecar's, else
            200).
        threshold: occurrence threshold (default: the export's, else 0.5).

    Returns:
        An `AUModel`.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: not a tfau model, or AUs that do not match the model.

    Example:
        >>> model = load_model("exported/jaanet")
        >>> model(faces_uint8)["au"].shape
        (8, 12)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model at {path!r}: expected a .keras file or a SavedModel.")
    if os.path.isdir(path):
        return _load_saved_model(path, aus, threshold)
    if path.endswith(".tflite"):
        from tfau.inference.litert import load_litert  # LiteRT, XNNPACK, 2 threads

        return load_litert(path, aus=aus, threshold=threshold)
    if not path.endswith(".keras"):
        raise ValueError(
            "Expected a .keras file, a SavedModel folder or a .tflite file exported by "
            f"`tfau export`. Received: {path!r}"
        )
    from tfau.model_files import KerasFileError, load_keras_model, read_model_info

    info = read_model_info(path)
    try:
        model = load_keras_model(path, compile=False)
    except KerasFileError:
        raise
    except Exception as error:
        raise ValueError(
            f"Cannot load {path!r} as a Keras model saved by tfau: {type(error).__name__}: {error}"
        ) from error
    if info is None:
        return from_keras(
            model,
            aus=aus,
            model_name=model_name,
            mean=mean,
            face_size=DEFAULT_OUTPUT_SIZE if face_size is None else face_size,
            threshold=threshold,
            path=path,
        )
    return from_keras(
        model,
        aus=aus,
        model_name=model_name or info.model_name,
        mean=info.mean if mean is None else mean,
        face_size=info.face_size if face_size is None else face_size,
        threshold=threshold,
        path=path,
        trained_aus=info.aus,
        **info.pipeline_kwargs,
    )


__all__ = [
    "DEFAULT_AUS",
    "AUModel",
    "from_keras",
    "load_model",
    "resolve_model_name",
]
