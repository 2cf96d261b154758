"""A LiteRT (``.tflite``) model written by ``tfau export --format litert`` as an `AUModel`.

`load_litert` runs the file's ``"faces"`` signature (the network and its test-time
preprocessing, see `tfau.export.litert`) in ai-edge-litert's interpreter with the XNNPACK CPU
delegate, 2 threads by default; a batch of faces runs in one call (the input's batch dimension
is resized when it changes). The JSON sidecar beside the file (``model.tflite.json``) names
the AUs, the face size and the threshold. `load_model` dispatches ``.tflite`` paths here, so
`Predictor` and ``tfau predict --model model.tflite`` use it like any other model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from tfau.export.litert import DEFAULT_THREADS, LiteRTRunner, read_metadata, with_flow
from tfau.export.saved_model import FLOW_FRAMES_SIGNATURE
from tfau.inference.model import AUModel, _select_aus


def load_litert(
    path: str | os.PathLike[str],
    *,
    aus: Sequence[int] | None = None,
    threshold: float | None = None,
    num_threads: int = DEFAULT_THREADS,
) -> AUModel:
    """Loads a ``.tflite`` file exported by tfau as an `AUModel` (``source="litert"``).

    Args:
        path: the ``.tflite`` file (its sidecar ``path + ".json"`` beside it).
        aus: AUs to predict, a subset of the exported ones (default: all).
        threshold: occurrence threshold (default: the export's).
        num_threads: interpreter threads. Defaults to 2.

    Returns:
        An `AUModel`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: no sidecar, or AUs the model does not predict.
        tfau.export.litert.LiteRTUnavailableError: ``ai-edge-litert`` is not installed
            (``pip install "tfau[litert]"``).

    Example:
        >>> model = load_litert("jaanet.tflite")  # doctest: +SKIP
        >>> model(faces_uint8)["au"].shape
        (8, 12)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No LiteRT model at {path!r}.")
    metadata = read_metadata(path)
    runner = LiteRTRunner(path, num_threads)
    selected_aus, columns = _select_aus(metadata["aus"], len(metadata["aus"]), aus, path)
    predicts_landmarks = "landmarks" in runner.output_names
    needs_landmarks = "landmarks" in runner.input_names
    needs_flow = FLOW_FRAMES_SIGNATURE in runner.signatures
    if needs_flow:
        faces_function = with_flow(
            runner,
            lambda **inputs: runner.run(FLOW_FRAMES_SIGNATURE, **inputs),
            metadata["pipeline"]["flow_preset"],
        )
    else:
        faces_function = runner

    def function(
        faces: np.ndarray, landmarks: np.ndarray | None = None, previous: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        inputs = {"images": np.ascontiguousarray(faces)}
        if landmarks is not None:
            inputs["landmarks"] = np.asarray(landmarks, np.float32)
        if previous is not None:
            inputs["previous"] = np.ascontiguousarray(previous)
        outputs = faces_function(**inputs)
        result = {"au": outputs["au_probabilities"][:, columns]}
        if predicts_landmarks:
            result["landmarks"] = outputs["landmarks"]
        return result

    function.runner = runner  # type: ignore[attr-defined]
    return AUModel(
        model_name=metadata["model_name"],
        aus=selected_aus,
        face_size=int(metadata["face_size"]),
        box_enlarge=float(metadata["box_enlarge"]),
        threshold=float(metadata["threshold"] if threshold is None else threshold),
        predicts_landmarks=predicts_landmarks,
        source="litert",
        path=path,
        function=function,
        needs_landmarks=needs_landmarks,
        needs_flow=needs_flow,
    )


__all__ = ["load_litert"]
