"""A trained tfau model as a LiteRT (``.tflite``) file for fast CPU serving, quantised or not.

`export_litert` writes the SavedModel ``"faces"`` signature of `tfau.export.export_model` (the
network with its whole test-time preprocessing, traced by the same `ServingFunctions`) through
TensorFlow's LiteRT converter, with LiteRT's builtin operators only, so any LiteRT runtime
serves it: ``ai-edge-litert``'s interpreter (``pip install "tfau[litert]"``) runs it with the
XNNPACK CPU delegate. The file holds one signature, ``"faces"``:

    Inputs: ``images`` uint8 ``(B, S, S, 3)`` RGB faces aligned as the dataset builders align
    them (``S = face_size``; the batch dimension is resized at run time, 1 by default);
    networks with a landmark input (E-Net, EAC-Net) also ``landmarks`` float32 ``(B, 49, 2)``.
    Outputs: those of the SavedModel's ``"faces"``: ``au_probabilities`` float32
    ``(B, num_aus)``, ``au_occurrence`` int32, ``au_names`` bytes ``(num_aus,)`` and, where the
    network has them, ``landmarks`` ``(B, 49, 2)`` in face pixels, ``attention``,
    ``patch_attention``, ``view``.

Quantisation (``quantize``), all weight-only: ``"int8"`` is dynamic-range quantisation (int8
weights, activations quantised on the fly by the kernels that have int8 versions; 4x
smaller), ``"float16"`` stores float16 weights (2x smaller; computed in float32 on CPUs),
``"none"`` keeps float32. Whether int8 is faster depends on the CPU's int8 kernels: on this
project's 2-core AMD EPYC it is not (experiments/benchmarks/results/litert.md). Each
quantised model is compared with the float32 one on SynthAU faces (`synthau_faces`: seeded,
rendered and aligned here) and timed beside it at batch 1; the figures are kept in the JSON
sidecar ``<file>.tflite.json``: occurrence agreement at the threshold (share of face x AU
decisions equal to float32's), per-AU F1 against SynthAU's labels and its change, probability
differences, latency. ``"auto"`` takes the fastest quantisation whose agreement is at least
``min_agreement`` (99%) and whose latency is at most `FASTER_THAN_FLOAT32` (0.9) times
float32's on the exporting machine, else float32 (`choose_quantization`).

Optical-flow networks (AUNets' flow fusions) also hold the SavedModel's ``"flow_frames"``
signature; their ``"faces"`` takes ``flow`` instead of ``previous`` faces: OpenCV's DIS flow of
the pair ``"flow_frames"`` returns, computed between the two calls (`with_flow`,
`tfau.export.flow_input`; `tfau.inference` does it), as for the SavedModel.

Not imported by ``import tfau.export``: use ``import tfau.export.litert``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfau.faces.alignment import DEFAULT_BOX_ENLARGE, DEFAULT_OUTPUT_SIZE

#: Quantisations `export_litert` writes (``"auto"`` chooses among them).
QUANTIZATIONS = ("none", "int8", "float16")
#: The quantisations ``"auto"`` measures.
AUTO_ORDER = ("int8", "float16")
#: Occurrence agreement with float32 that ``"auto"`` requires of a quantised model.
MIN_AGREEMENT = 0.99
#: Batch-1 latency, as a share of float32's, below which ``"auto"`` counts a quantised model
#: as faster (smaller differences are within the timing noise of a shared machine).
FASTER_THAN_FLOAT32 = 0.9
_LATENCY_ROUNDS = 5
#: Faces `export_litert` measures quantisation on by default.
DEFAULT_EVAL_FACES = 128
#: Threads of the LiteRT interpreter by default.
DEFAULT_THREADS = 2
#: The signature of the ``.tflite`` file (the SavedModel's ``"faces"``).
SIGNATURE = "faces"
_FACES_PER_SEQUENCE = 8
_FRAME_STRIDE = 9
_INSTALL_HINT = 'pip install "tfau[litert]"'


class LiteRTUnavailableError(ImportError):
    """``ai-edge-litert`` (LiteRT's interpreter) is not installed."""


def metadata_path(path: str | os.PathLike[str]) -> str:
    """The JSON sidecar of a ``.tflite`` file: ``model.tflite`` -> ``model.tflite.json``."""
    return os.fspath(path) + ".json"


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar `export_litert` wrote beside ``path``.

    Raises:
        ValueError: no sidecar (a ``.tflite`` not written by ``tfau export``).
    """
    sidecar = metadata_path(path)
    if not os.path.exists(sidecar):
        raise ValueError(
            f"The LiteRT model {os.fspath(path)!r} has no {os.path.basename(sidecar)} beside "
            "it: it was not written by `tfau export --format litert` (which records the AUs "
            "and face size). Export it with tfau."
        )
    with open(sidecar) as file:
        return json.load(file)


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise LiteRTUnavailableError(
            "LiteRT models run in the ai-edge-litert interpreter, which is not installed: "
            f"{_INSTALL_HINT}"
        ) from error
    return Interpreter


class LiteRTRunner:
    """The ``"faces"`` signature of a ``.tflite`` file in LiteRT's interpreter (XNNPACK).

    Batches of any size run in one call: the input's batch dimension is resized when it
    changes. Not thread-safe: call it from one thread at a time.

    Args:
        model: path of the ``.tflite`` file, or its bytes.
        num_threads: CPU threads of the interpreter and its XNNPACK delegate. Defaults to 2.

    Raises:
        LiteRTUnavailableError: ``ai-edge-litert`` is not installed.
    """

    def __init__(self, model: str | os.PathLike[str] | bytes, num_threads: int = DEFAULT_THREADS):
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(
                f"`num_threads` must be a positive integer. Received: num_threads={num_threads!r}"
            )
        interpreter_class = _interpreter_class()
        if isinstance(model, bytes):
            # The default op resolver applies the XNNPACK delegate.
            self.interpreter = interpreter_class(model_content=model, num_threads=num_threads)
        else:
            self.interpreter = interpreter_class(
                model_path=os.fspath(model), num_threads=num_threads
            )
        signatures = self.interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise ValueError(
                f"Expected a LiteRT model with a {SIGNATURE!r} signature (tfau export --format "
                f"litert). Received signatures: {sorted(signatures)}"
            )
        self.signatures = tuple(sorted(signatures))
        self.input_names = tuple(signatures[SIGNATURE]["inputs"])
        self.output_names = tuple(signatures[SIGNATURE]["outputs"])
        self._runners = {
            name: self.interpreter.get_signature_runner(name) for name in self.signatures
        }

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Runs ``"faces"`` on numpy inputs (``images``, [``landmarks`` | ``flow``])."""
        return self.run(SIGNATURE, **inputs)

    def run(self, signature: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Runs one of the file's signatures (e.g. ``"flow_frames"``); numpy outputs."""
        if signature not in self._runners:
            raise ValueError(
                f"This LiteRT model has no {signature!r} signature. Received signatures: "
                f"{list(self.signatures)}"
            )
        return {name: np.array(value) for name, value in self._runners[signature](**inputs).items()}


def with_flow(faces: Any, flow_frames: Any, preset: str) -> Any:
    """A flow network's served ``"faces"`` as a callable that takes ``previous`` faces.

    Args:
        faces: its ``"faces"`` signature (keyword ``images``, ``flow``; numpy outputs).
        flow_frames: its ``"flow_frames"`` signature.
        preset: the pipeline's DIS preset.

    Returns:
        ``call(images=, previous=)``: ``faces`` on the flow of each (previous, image) pair
        (`tfau.export.flow_input`).
    """
    from tfau.export.saved_model import flow_input

    def call(*, images: np.ndarray, previous: np.ndarray) -> dict[str, np.ndarray]:
        return faces(images=images, flow=flow_input(flow_frames, images, previous, preset))

    return call


def convert(saved_model_dir: str, quantization: str = "none") -> bytes:
    """The SavedModel's signatures as a LiteRT flatbuffer (builtin ops only): ``"faces"``,
    and ``"flow_frames"`` for optical-flow networks (their ``tfau_export.json`` names them).

    Args:
        saved_model_dir: a SavedModel written by `tfau.export.export_model`.
        quantization: one of `QUANTIZATIONS`.

    Raises:
        ValueError: an unknown quantisation, or an op without a LiteRT builtin kernel.
    """
    import tensorflow as tf

    from tfau.export.saved_model import FLOW_FRAMES_SIGNATURE, METADATA_FILE

    _check_quantization(quantization, allow_auto=False)
    signatures = [SIGNATURE]
    with open(os.path.join(saved_model_dir, METADATA_FILE)) as file:
        if FLOW_FRAMES_SIGNATURE in json.load(file)["signatures"]:
            signatures.append(FLOW_FRAMES_SIGNATURE)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=signatures)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError with the MLIR dump
        lines = [line for line in str(error).splitlines() if "error:" in line or "ops:" in line]
        raise ValueError(
            "The network does not convert to LiteRT's builtin operators: "
            + ("; ".join(lines[:6]) or str(error)[:2000])
        ) from error


@dataclasses.dataclass
class SynthAUFaces:
    """Aligned SynthAU faces for measuring a model (`synthau_faces`).

    Attributes:
        images: uint8 ``(N, S, S, 3)``.
        previous: uint8 ``(N, S, S, 3)``: each face's previous frame cut out with the face's
            alignment (the face itself for a sequence's first frame: zero flow), the
            optical-flow networks' second input.
        landmarks: float32 ``(N, 49, 2)`` in the aligned faces' pixels.
        labels: int8 ``(N, len(aus))``: 1 present, 0 absent, -1 for AUs SynthAU does not code.
        description: how they were made (profile, seed, subjects, frames).
    """

    images: np.ndarray
    previous: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    description: str


def synthau_faces(
    count: int,
    aus: Sequence[int],
    face_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    seed: int = 0,
) -> SynthAUFaces:
    """``count`` SynthAU faces, aligned as the dataset builders align them, with AU labels.

    Faces come from ``ceil(count / 8)`` subjects no SynthAU writer names (``Q001``, ...), one
    sequence each, 8 frames 9 frames apart, rendered at ``2 * face_size`` pixels square and
    aligned from their 49 landmarks (`tfau.faces.align_face`). The SynthAU profile is BP4D's
    when ``aus`` are among its AUs, else DISFA's, else the balanced one.

    Args:
        count: number of faces (at least 1).
        aus: the model's AUs, for the labels.
        face_size: side of the aligned faces. Defaults to 200.
        box_enlarge: alignment box over the key points' extent. Defaults to 2.9.
        seed: SynthAU seed. Defaults to 0.

    Returns:
        A `SynthAUFaces`.
    """
    from tfau.faces.alignment import align_face, warp_face
    from tfau.synth import ALL_AUS, BP4D_PROFILE, DISFA_PROFILE, SynthAU

    if not isinstance(count, int) or count < 1:
        raise ValueError(f"`count` must be a positive integer. Received: count={count!r}")
    profile = "balanced"
    for candidate in (BP4D_PROFILE, DISFA_PROFILE):
        if set(aus) <= set(candidate.coded_aus):
            profile = candidate.name
            break
    side = max(2 * face_size, 64)
    generator = SynthAU(profile, image_size=(side, side), seed=seed)
    coded = [au for au in aus if au in ALL_AUS]
    images, previous, landmarks, labels = [], [], [], []
    sequences = math.ceil(count / _FACES_PER_SEQUENCE)
    for number in range(sequences):
        sequence = generator.sequence(
            f"Q{number + 1:03d}", "T1", _FACES_PER_SEQUENCE * _FRAME_STRIDE
        )
        occurrence = sequence.occurrence(coded) if coded else None
        for t in range(0, sequence.num_frames, _FRAME_STRIDE):
            if len(images) == count:
                break
            face = align_face(sequence.frame(t), sequence.landmarks49[0, t], face_size, box_enlarge)
            images.append(face.image)
            previous.append(
                face.image if t == 0 else warp_face(sequence.frame(t - 1), face.matrix, face_size)
            )
            landmarks.append(face.landmarks)
            row = np.full(len(aus), -1, np.int8)
            for column, au in enumerate(aus):
                if au in coded:
                    row[column] = occurrence[t, coded.index(au)]
            labels.append(row)
    description = (
        f"SynthAU profile {profile!r}, seed {seed}: {len(images)} faces of {sequences} "
        f"subjects (Q001-Q{sequences:03d}), every {_FRAME_STRIDE}th frame, aligned to "
        f"{face_size} px"
    )
    return SynthAUFaces(
        images=np.stack(images),
        previous=np.stack(previous),
        landmarks=np.stack(landmarks).astype(np.float32),
        labels=np.stack(labels),
        description=description,
    )


def run_faces(
    runner: Any,
    images: np.ndarray,
    landmarks: np.ndarray | None = None,
    previous: np.ndarray | None = None,
    batch_size: int = 16,
) -> dict[str, np.ndarray]:
    """A `LiteRTRunner` (or any ``images=``[/``landmarks=``/``previous=``] callable, see
    `with_flow`) over faces in batches.

    Returns:
        Every batched output, concatenated (``au_names`` once).
    """
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(images), batch_size):
        inputs = {"images": images[start : start + batch_size]}
        if landmarks is not None:
            inputs["landmarks"] = landmarks[start : start + batch_size].astype(np.float32)
        if previous is not None:
            inputs["previous"] = previous[start : start + batch_size]
        for name, value in runner(**inputs).items():
            parts.setdefault(name, []).append(np.asarray(value))
    return {
        name: values[0] if name == "au_names" else np.concatenate(values)
        for name, values in parts.items()
    }


def compare_outputs(
    reference: dict[str, np.ndarray],
    candidate: dict[str, np.ndarray],
    labels: np.ndarray,
    au_names: Sequence[str],
    threshold: float,
) -> dict[str, Any]:
    """How far a quantised model's outputs are from float32's on the same faces.

    Args:
        reference: float32 outputs (``au_probabilities`` ``(N, A)``, [``landmarks``]).
        candidate: the quantised model's outputs on the same faces.
        labels: ``(N, A)`` SynthAU labels (1, 0, -1 unknown) for the F1 scores.
        au_names: ``["AU01", ...]``.
        threshold: occurrence threshold.

    Returns:
        ``occurrence_agreement`` (share of the N x A decisions equal to float32's),
        ``probability_max_abs_diff``, ``probability_mean_abs_diff``, ``mean_f1_change``
        (over AUs with labels), [``landmarks_max_abs_diff`` in pixels] and ``per_au``:
        ``{name: {"f1", "f1_float32", "f1_change", "agreement"}}`` (F1 None without labels).
    """
    from tfau.metrics import f1_frame

    p_ref = reference["au_probabilities"].astype(np.float64)
    p_new = candidate["au_probabilities"].astype(np.float64)
    agree = (p_ref >= threshold) == (p_new >= threshold)
    f1_ref = f1_frame(labels, p_ref, threshold)
    f1_new = f1_frame(labels, p_new, threshold)
    labelled = np.any(labels >= 0, axis=0)
    per_au = {}
    for column, name in enumerate(au_names):
        known = bool(labelled[column])
        per_au[name] = {
            "f1": float(f1_new[column]) if known else None,
            "f1_float32": float(f1_ref[column]) if known else None,
            "f1_change": float(f1_new[column] - f1_ref[column]) if known else None,
            "agreement": float(agree[:, column].mean()),
        }
    result: dict[str, Any] = {
        "occurrence_agreement": float(agree.mean()),
        "probability_max_abs_diff": float(np.abs(p_new - p_ref).max()),
        "probability_mean_abs_diff": float(np.abs(p_new - p_ref).mean()),
        "mean_f1_change": (
            float(np.mean(f1_new[labelled] - f1_ref[labelled])) if labelled.any() else None
        ),
    }
    if "landmarks" in reference:
        result["landmarks_max_abs_diff"] = float(
            np.abs(candidate["landmarks"] - reference["landmarks"]).max()
        )
    result["per_au"] = per_au
    return result


def measure_latency(runners: dict[str, Any], inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Batch latency of each runner in milliseconds: the fastest of 5 interleaved calls.

    One warm-up call each; the calls alternate between the runners so that a load change on a
    shared machine hits them alike, and the fastest call is the one least disturbed by it.
    """
    import time

    for runner in runners.values():
        runner(**inputs)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(_LATENCY_ROUNDS):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(**inputs)
            times[name].append(1000.0 * (time.perf_counter() - start))
    return {name: min(values) for name, values in times.items()}


def choose_quantization(accuracy: dict[str, Any], min_agreement: float = MIN_AGREEMENT) -> str:
    """``"auto"``: the fastest quantisation that keeps the agreement and beats float32.

    Args:
        accuracy: `export_litert`'s ``accuracy`` entries (``"float32"``, ``"int8"``,
            ``"float16"``, each with ``latency_ms``; the quantised ones with
            ``occurrence_agreement``).
        min_agreement: occurrence agreement with float32 required. Defaults to 0.99.

    Returns:
        The quantised model with agreement >= ``min_agreement`` and a latency at most
        `FASTER_THAN_FLOAT32` times float32's, the fastest of them; ``"none"`` (float32) when
        none qualifies.
    """
    limit = FASTER_THAN_FLOAT32 * accuracy["float32"]["latency_ms"]
    qualified = [
        name
        for name in AUTO_ORDER
        if name in accuracy
        and accuracy[name]["occurrence_agreement"] >= min_agreement
        and accuracy[name]["latency_ms"] <= limit
    ]
    return min(qualified, key=lambda name: accuracy[name]["latency_ms"], default="none")


def _check_quantization(quantize: str, allow_auto: bool = True) -> None:
    choices = (("auto",) if allow_auto else ()) + QUANTIZATIONS
    if quantize not in choices:
        raise ValueError(
            f"`quantize` must be one of {', '.join(choices)}. Received: quantize={quantize!r}"
        )


def _check_servable(model: Any, model_name: str) -> None:
    outputs = sorted(model.output) if isinstance(model.output, dict) else model.output
    if "au" not in outputs:
        raise ValueError(
            f"A LiteRT export measures its quantisation by AU agreement: {model_name} has no "
            f"'au' output (outputs: {outputs}). Export it as a SavedModel (tfau export "
            "--format saved_model)."
        )


def export_litert(
    model: Any,
    path: str | os.PathLike[str],
    *,
    model_name: str,
    aus: Sequence[int],
    face_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    threshold: float = 0.5,
    mean: Sequence[float] | None = None,
    quantize: str = "auto",
    eval_faces: int = DEFAULT_EVAL_FACES,
    eval_seed: int = 0,
    min_agreement: float = MIN_AGREEMENT,
    num_threads: int = DEFAULT_THREADS,
    **config_overrides: Any,
) -> dict[str, Any]:
    """Writes ``model`` and its test-time preprocessing as a ``.tflite`` file + JSON sidecar.

    See the module docstring for the signature and the quantisations.

    Args:
        model: a trained tfau network (``"au"`` output, named inputs).
        path: the ``.tflite`` file to write; the sidecar goes to ``path + ".json"``.
        model_name: its ``tfau.models`` registry name (fixes the preprocessing).
        aus: the AU numbers of the ``"au"`` output columns.
        face_size: side of the aligned faces taken. Defaults to 200.
        box_enlarge: alignment box over the key points' extent (recorded). Defaults to 2.9.
        threshold: occurrence threshold. Defaults to 0.5.
        mean: RGB training mean, required by networks that subtract it (DRML).
        quantize: ``"auto"`` (default: `choose_quantization` after measuring both
            quantisations), ``"none"``, ``"int8"`` or ``"float16"``.
        eval_faces: SynthAU faces the quantisation is measured on (`synthau_faces`).
            Defaults to 128.
        eval_seed: their SynthAU seed. Defaults to 0.
        min_agreement: occurrence agreement with float32 that ``"auto"`` requires.
            Defaults to 0.99.
        num_threads: interpreter threads for the measurements. Defaults to 2.
        **config_overrides: arguments of the network's pipeline config function.

    Returns:
        The metadata also written to the sidecar: the SavedModel export's (model name, AUs,
        face size, threshold, mean, pipeline) plus ``format``, ``quantization``,
        ``quantize_requested``, ``size_bytes`` and ``accuracy``: the faces used, ``"float32"``
        (per-AU F1 against SynthAU's labels, largest probability difference from the
        SavedModel) and one `compare_outputs` entry per quantisation measured (``"int8"``,
        ``"float16"``), each with ``size_bytes`` and ``latency_ms`` (`measure_latency`,
        batch 1).

    Raises:
        ValueError: networks without an ``"au"`` output (AUNets' view classifier: export it
            as a SavedModel), a path not ending in ``.tflite``, a bad ``quantize``, the
            errors of `tfau.export.export_model`, ops without a LiteRT builtin kernel.
        LiteRTUnavailableError: ``ai-edge-litert`` is not installed.

    Example:
        >>> metadata = export_litert(model, "jaanet.tflite", model_name="JAANet",
        ...                          aus=BP4D_AUS)  # doctest: +SKIP
        >>> metadata["quantization"], metadata["accuracy"]["int8"]["occurrence_agreement"]
        ('int8', 0.995)
    """
    import tensorflow as tf

    from tfau.export.saved_model import FLOW_FRAMES_SIGNATURE, export_model

    path = os.fspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(f"`path` must name a .tflite file. Received: path={path!r}")
    _check_quantization(quantize)
    if not 0.0 <= min_agreement <= 1.0:
        raise ValueError(
            f"`min_agreement` must be in [0, 1]. Received: min_agreement={min_agreement}"
        )
    _check_servable(model, model_name)
    _interpreter_class()  # before any work: the measurement needs the interpreter
    faces = synthau_faces(eval_faces, aus, face_size, box_enlarge, eval_seed)
    with tempfile.TemporaryDirectory(prefix="tfau_litert_") as saved_model_dir:
        metadata = export_model(
            model,
            saved_model_dir,
            model_name=model_name,
            aus=aus,
            face_size=face_size,
            box_enlarge=box_enlarge,
            threshold=threshold,
            mean=mean,
            **config_overrides,
        )
        needs_landmarks = "landmarks" in metadata["signatures"][SIGNATURE]
        needs_flow = FLOW_FRAMES_SIGNATURE in metadata["signatures"]
        eval_inputs = {
            "landmarks": faces.landmarks if needs_landmarks else None,
            "previous": faces.previous if needs_flow else None,
        }
        signatures = tf.saved_model.load(saved_model_dir).signatures

        def saved_model(signature: str) -> Any:
            def call(**inputs: np.ndarray) -> dict[str, np.ndarray]:
                return {k: v.numpy() for k, v in signatures[signature](**inputs).items()}

            return call

        def served(faces_fn: Any, flow_frames_fn: Any) -> Any:
            if not needs_flow:
                return faces_fn
            return with_flow(faces_fn, flow_frames_fn, metadata["pipeline"]["flow_preset"])

        def litert(flatbuffer: bytes) -> Any:
            runner = LiteRTRunner(flatbuffer, num_threads)
            return served(runner, lambda **inputs: runner.run(FLOW_FRAMES_SIGNATURE, **inputs))

        keras_outputs = run_faces(
            served(saved_model(SIGNATURE), saved_model(FLOW_FRAMES_SIGNATURE)),
            faces.images,
            **eval_inputs,
        )
        candidates = {"auto": list(AUTO_ORDER), "none": []}.get(quantize, [quantize])
        flatbuffers = {"none": convert(saved_model_dir, "none")}
        runners = {"none": litert(flatbuffers["none"])}
        outputs = {"none": run_faces(runners["none"], faces.images, **eval_inputs)}
        accuracy: dict[str, Any] = {
            "faces": len(faces.images),
            "description": faces.description,
            "threshold": threshold,
            "min_agreement": min_agreement,
        }
        names = metadata["au_names"]
        reference = compare_outputs(keras_outputs, outputs["none"], faces.labels, names, threshold)
        accuracy["float32"] = {
            "size_bytes": len(flatbuffers["none"]),
            "saved_model_max_abs_diff": reference["probability_max_abs_diff"],
            "per_au": {name: {"f1": values["f1"]} for name, values in reference["per_au"].items()},
        }
        for candidate in candidates:
            flatbuffers[candidate] = convert(saved_model_dir, candidate)
            runners[candidate] = litert(flatbuffers[candidate])
            outputs[candidate] = run_faces(runners[candidate], faces.images, **eval_inputs)
            figures = compare_outputs(
                outputs["none"], outputs[candidate], faces.labels, names, threshold
            )
            accuracy[candidate] = {"size_bytes": len(flatbuffers[candidate]), **figures}
        first = {"images": faces.images[:1]}
        first.update({k: v[:1] for k, v in eval_inputs.items() if v is not None})
        for name, milliseconds in measure_latency(runners, first).items():
            accuracy["float32" if name == "none" else name]["latency_ms"] = milliseconds
        chosen = choose_quantization(accuracy, min_agreement) if quantize == "auto" else quantize
    with open(path, "wb") as file:
        file.write(flatbuffers[chosen])
    from importlib import metadata as package_metadata

    try:
        runtime = f"ai-edge-litert {package_metadata.version('ai-edge-litert')}"
    except package_metadata.PackageNotFoundError:
        runtime = "ai-edge-litert"
    metadata = {
        **metadata,
        "format": "litert",
        "signatures": {
            name: inputs
            for name, inputs in metadata["signatures"].items()
            if name in (SIGNATURE, FLOW_FRAMES_SIGNATURE)
        },
        "quantization": chosen,
        "quantize_requested": quantize,
        "size_bytes": len(flatbuffers[chosen]),
        "converter": f"tensorflow {tf.__version__} (builtin ops)",
        "measured_with": f"{runtime}, XNNPACK, {num_threads} threads",
        "accuracy": accuracy,
    }
    with open(metadata_path(path), "w") as file:
        json.dump(metadata, file, indent=2)
    return metadata


def format_accuracy(metadata: dict[str, Any]) -> str:
    """The accuracy part of `export_litert`'s metadata as lines of text (``tfau export``)."""
    accuracy = metadata["accuracy"]
    lines = [
        f"Quantisation measured on {accuracy['faces']} faces ({accuracy['description']}), "
        f"threshold {accuracy['threshold']}:",
        f"  {'quantisation':<13}{'size':>9}  {'batch 1':>9}  {'agreement':>9}  "
        f"{'max |dp|':>9}  {'mean |dp|':>9}  {'F1 change':>9}",
    ]
    float32 = accuracy["float32"]
    lines.append(
        f"  {'float32':<13}{float32['size_bytes'] / 1e6:>7.2f}MB  "
        f"{float32['latency_ms']:>7.1f}ms  {'-':>9}  "
        f"{float32['saved_model_max_abs_diff']:>9.2g}  {'-':>9}  {'-':>9}   "
        "(max |dp| against the SavedModel)"
    )
    for name in AUTO_ORDER:
        if name not in accuracy:
            continue
        figures = accuracy[name]
        change = figures["mean_f1_change"]
        lines.append(
            f"  {name:<13}{figures['size_bytes'] / 1e6:>7.2f}MB  "
            f"{figures['latency_ms']:>7.1f}ms  "
            f"{100 * figures['occurrence_agreement']:>8.2f}%  "
            f"{figures['probability_max_abs_diff']:>9.2g}  "
            f"{figures['probability_mean_abs_diff']:>9.2g}  "
            f"{'-' if change is None else f'{change:+.4f}':>9}"
        )
        changes = [
            f"{au} {values['f1_change']:+.3f}"
            for au, values in figures["per_au"].items()
            if values["f1_change"] is not None
        ]
        if changes:
            lines.append(f"    F1 change per AU: {', '.join(changes)}")
    chosen = metadata["quantization"]
    if metadata["quantize_requested"] == "auto":
        rule = (
            f"agreement >= {100 * accuracy['min_agreement']:g}% and batch-1 latency <= "
            f"{FASTER_THAN_FLOAT32:g} x float32's on this CPU"
        )
        reason = f"the fastest with {rule}" if chosen != "none" else f"no quantisation has {rule}"
        lines.append(f"Chose {'float32' if chosen == 'none' else chosen}: {reason}.")
    return "\n".join(lines)


__all__ = [
    "AUTO_ORDER",
    "DEFAULT_EVAL_FACES",
    "DEFAULT_THREADS",
    "FASTER_THAN_FLOAT32",
    "MIN_AGREEMENT",
    "QUANTIZATIONS",
    "SIGNATURE",
    "LiteRTRunner",
    "LiteRTUnavailableError",
    "SynthAUFaces",
    "choose_quantization",
    "compare_outputs",
    "convert",
    "export_litert",
    "format_accuracy",
    "measure_latency",
    "metadata_path",
    "read_metadata",
    "run_faces",
    "synthau_faces",
]
