"""What the BP4D, DISFA and SynthAU builders share: configs, features, face crops, build summary.

A builder turns its manual download into a list of *sequence tasks* (small picklable
dataclasses). A task function (a module-level function of the builder's package) reads one
sequence and returns a `SequenceResult`: the finished examples (face already cropped and
JPEG-encoded) and a record of everything it skipped and why. `generate` runs the task function
over the tasks with a process pool (every core) or, when the build was given a Beam runner or
Beam options, as ``beam.Create(tasks) | beam.FlatMap(...)``, so the same code scales from a
laptop to a cluster. `BuildSummary` adds up what was skipped; builders log it at the end of the
build and store it in ``info.metadata["build_summary"]``.

Faces are cut out of the frame by one affine warp: JAA-Net's similarity alignment (the
transform of ``tfau.faces.align_face``, same interpolation and grey border) for the
``aligned<size>`` configs, a square box around the landmarks for the ``unaligned<size>``
configs (EAC-Net and AUNets use a detector's face box resized to 224). The landmarks are
moved by the same matrix, so they stay in the pixels of the stored image.

The ``*_pairs`` configs (AUNets' optical flow) also store the frame before each example,
``previous_image``, cut out with the example's own matrix so that the flow between the two
measures the face's motion, not the box's; ``has_previous`` is False where that frame does not
exist or cannot be decoded (``previous_image`` then repeats the frame: zero flow).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from tfau._workers import process_pool
from tfau.faces import (
    SQUARE_BOX_SCALE,
    SQUARE_BOX_SHIFT,
    inter_ocular_distance,
    keypoints_from_landmarks,
    similarity_from_keypoints,
    square_box_matrix,
    transform_points,
    warp_face,  # the face cut out with a matrix, grey (128) where it leaves the frame
)

logger = logging.getLogger("tfau.datasets")

#: AU vectors ``au_full`` / ``au_full_mask`` / ``au_intensity`` hold AU ``k`` at index ``k - 1``.
NUM_AU_SLOTS = 64
#: JPEG quality of the stored faces.
JPEG_QUALITY = 95
#: Unaligned crops: side of the square box over the 49 landmarks' bounding box, relative to its
#: larger side, and downward shift of its centre relative to the box height (the 49 points stop
#: at the lower lip; a detector's face box reaches the chin).
UNALIGNED_BOX_SCALE = SQUARE_BOX_SCALE
UNALIGNED_BOX_SHIFT = SQUARE_BOX_SHIFT
#: How many example paths per skip reason the build summary keeps.
SUMMARY_EXAMPLES_PER_REASON = 20

SKIP_REASONS: dict[str, str] = {
    "missing_image": "a coded frame has no image file",
    "corrupt_image": "the image (or video frame) cannot be decoded",
    "malformed_row": "a label row cannot be parsed",
    "corrupt_landmarks": "a landmark file cannot be read (its frames have no landmarks)",
    "no_landmarks": "aligned configs only: the frame has no usable landmarks",
    "no_landmarks_in_sequence": "no frame of the sequence has landmarks (no face box at all)",
    "no_video_frame": "a label line points past the end of the video",
    "no_label_line": "a video frame has no label line (DISFA's SN010 is one line short)",
    "subject_not_in_partitions": "the subject is in none of the standard parts",
}


class ManualDirError(FileNotFoundError):
    """The manual_dir is missing, wrong or incomplete (the message lists expected vs found)."""


@dataclasses.dataclass(eq=False)
class FaceConfig(tfds.core.BuilderConfig):
    """Builder config: how faces are cut out of the frames.

    Args:
        aligned: True for JAA-Net's similarity alignment (eyes level, box over the eye centres,
            nose tip and mouth corners enlarged 2.9x, grey border), False for a square face box
            around the landmarks, resized (EAC-Net, AUNets).
        image_size: side of the stored square face, in pixels.
        camera: DISFA only: ``"left"`` (the standard protocol) or ``"right"``.
        pairs: also store the previous frame (``previous_image``, ``has_previous``) for
            AUNets' optical flow; the name ends in ``_pairs``.

    Example:
        >>> config = FaceConfig.make(aligned=True, image_size=176)
        >>> config.name
        'aligned176'
    """

    aligned: bool = True
    image_size: int = 200
    camera: str = "left"
    pairs: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or self.image_size < 16:
            raise ValueError(
                f"`image_size` must be an integer >= 16. Received: image_size={self.image_size!r}"
            )
        if self.camera not in ("left", "right"):
            raise ValueError(
                f'`camera` must be "left" or "right". Received: camera={self.camera!r}'
            )
        if not isinstance(self.pairs, bool):
            raise ValueError(f"`pairs` must be a bool. Received: pairs={self.pairs!r}")

    @classmethod
    def make(
        cls, *, aligned: bool, image_size: int, camera: str = "left", pairs: bool = False
    ) -> FaceConfig:
        """The config ``aligned<size>`` / ``unaligned<size>`` (+ ``_right``, ``_pairs``)."""
        name = f"{'aligned' if aligned else 'unaligned'}{image_size}"
        if camera != "left":
            name += f"_{camera}"
        if pairs:
            name += "_pairs"
        how = (
            "JAA-Net similarity alignment (eyes level, 2.9x box over eye centres, nose tip and "
            "mouth corners, grey border)"
            if aligned
            else "square face box around the landmarks, resized (EAC-Net, AUNets)"
        )
        description = f"{image_size}x{image_size} faces, {how}"
        if camera != "left":
            description += f"; {camera} camera"
        if pairs:
            description += "; with the previous frame for optical flow (AUNets)"
        return cls(
            name=name,
            description=description + ".",
            aligned=aligned,
            image_size=image_size,
            camera=camera,
            pairs=pairs,
        )

    def crop_spec(self) -> CropSpec:
        """The picklable part task functions need."""
        return CropSpec(aligned=self.aligned, image_size=self.image_size, pairs=self.pairs)


def face_features(
    image_size: int,
    num_aus: int,
    extra: Mapping[str, tfds.features.FeatureConnector] | None = None,
) -> tfds.features.FeaturesDict:
    """The features every AU builder stores, plus the builder's ``extra`` ones.

    Args:
        image_size: side of the stored square face.
        num_aus: number of the dataset's standard AUs (length of ``au``).
        extra: builder-specific features (``task``, ``landmarks66``, ``view``, ...).

    Returns:
        The `tfds.features.FeaturesDict`.
    """
    features: dict[str, Any] = {
        "image": tfds.features.Image(
            shape=(image_size, image_size, 3), encoding_format="jpeg", doc="RGB face"
        ),
        "subject": tfds.features.Text(doc="subject id, e.g. F001 or SN001"),
        "sequence": tfds.features.Text(doc="video id, e.g. F001_T1 or SN001"),
        "frame": tfds.features.Scalar(np.int32, doc="frame number as in the label files"),
        "au": tfds.features.Tensor(
            shape=(num_aus,), dtype=np.int32, doc="standard AUs: 1 present, 0 absent, -1 unknown"
        ),
        "au_full": tfds.features.Tensor(
            shape=(NUM_AU_SLOTS,), dtype=np.int32, doc="AU k at index k-1: 1, 0, -1 unknown"
        ),
        "au_full_mask": tfds.features.Tensor(
            shape=(NUM_AU_SLOTS,), dtype=np.bool_, doc="True where au_full is labelled"
        ),
        "au_intensity": tfds.features.Tensor(
            shape=(NUM_AU_SLOTS,), dtype=np.int32, doc="AU k at index k-1: 0-5, -1 not coded"
        ),
        "landmarks": tfds.features.Tensor(
            shape=(49, 2), dtype=np.float32, doc="49 points (x, y) in image pixels"
        ),
        "has_landmarks": tfds.features.Scalar(np.bool_, doc="False: landmarks are zeros"),
        "interocular_distance": tfds.features.Scalar(
            np.float32, doc="distance between the eye centres in image pixels (0 if unknown)"
        ),
    }
    features.update(extra or {})
    return tfds.features.FeaturesDict(features)


def pair_features(image_size: int) -> dict[str, tfds.features.FeatureConnector]:
    """``previous_image`` and ``has_previous``: the extra features of the ``*_pairs`` configs.

    Args:
        image_size: side of the stored square face.

    Returns:
        The two feature connectors, for `face_features`' ``extra``.
    """
    return {
        "previous_image": tfds.features.Image(
            shape=(image_size, image_size, 3),
            encoding_format="jpeg",
            doc="previous frame of the sequence, cropped with `image`'s transform",
        ),
        "has_previous": tfds.features.Scalar(
            np.bool_, doc="False: no previous frame (previous_image = image, zero flow)"
        ),
    }


# --------------------------------------------------------------------------------------------
# Build summary


@dataclasses.dataclass
class SequenceResult:
    """What a task function returns for one sequence.

    Args:
        examples: ``(key, example)`` pairs ready for TFDS.
        skipped: ``(reason, where)`` pairs, ``reason`` a key of `SKIP_REASONS`, ``where`` a
            path (and line or frame) a user can open.
        kept_without_landmarks: unaligned configs: frames kept with the nearest frame's box.
        kept_without_previous: pairs configs: frames kept with ``has_previous=False`` (no
            previous frame, or it cannot be decoded).
    """

    examples: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    kept_without_landmarks: int = 0
    kept_without_previous: int = 0

    def skip(self, reason: str, where: str) -> None:
        """Records one skipped frame or row."""
        if reason not in SKIP_REASONS:
            raise KeyError(f"Unknown skip reason {reason!r}. Expected one of {list(SKIP_REASONS)}")
        self.skipped.append((reason, where))


@dataclasses.dataclass
class BuildSummary:
    """Counts of what a build wrote, skipped (by reason), kept without landmarks or previous."""

    examples: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    skipped_examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    kept_without_landmarks: int = 0
    kept_without_previous: int = 0

    def add(self, split: str, result: SequenceResult) -> None:
        """Adds one sequence's result and logs every skipped item with its path."""
        self.examples[split] += len(result.examples)
        self.add_skips(result)

    def add_skips(self, result: SequenceResult) -> None:
        """Adds (and logs) only what ``result`` skipped or kept without landmarks or previous."""
        self.kept_without_landmarks += result.kept_without_landmarks
        self.kept_without_previous += result.kept_without_previous
        for reason, where in result.skipped:
            logger.warning("Skipped (%s: %s): %s", reason, SKIP_REASONS[reason], where)
            self.skipped[reason] += 1
            kept = self.skipped_examples.setdefault(reason, [])
            if len(kept) < SUMMARY_EXAMPLES_PER_REASON:
                kept.append(where)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form, stored in ``info.metadata["build_summary"]``."""
        return {
            "examples": dict(sorted(self.examples.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_total": int(sum(self.skipped.values())),
            "skipped_examples": {k: list(v) for k, v in sorted(self.skipped_examples.items())},
            "kept_without_landmarks": int(self.kept_without_landmarks),
            "kept_without_previous": int(self.kept_without_previous),
            "reasons": {k: SKIP_REASONS[k] for k in sorted(self.skipped)},
        }

    def log(self, dataset: str) -> None:
        """Logs the end-of-build summary."""
        lines = [f"{dataset}: wrote {dict(sorted(self.examples.items()))}"]
        if self.skipped:
            for reason, count in sorted(self.skipped.items()):
                lines.append(f"  skipped {count} ({reason}: {SKIP_REASONS[reason]})")
        else:
            lines.append("  skipped nothing")
        if self.kept_without_landmarks:
            lines.append(
                f"  kept {self.kept_without_landmarks} frames without landmarks "
                "(face box of the nearest frame with landmarks; has_landmarks=False)"
            )
        if self.kept_without_previous:
            lines.append(
                f"  kept {self.kept_without_previous} frames without a previous frame "
                "(first frame, or the previous one missing or corrupt; has_previous=False)"
            )
        logger.warning("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Running task functions: process pool locally, Beam when asked


def default_num_workers() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_local(
    task_fn: Callable[[Any], SequenceResult], tasks: Sequence[Any], num_workers: int
) -> Iterator[SequenceResult]:
    """Runs ``task_fn`` over ``tasks``, in order, on ``num_workers`` processes.

    Workers come from a fork server (`tfau._workers.process_pool`): forking the caller
    directly deadlocks when it runs threads that hold locks (seen after an Apache Beam
    pipeline ran in the same process), and they never re-run the caller's ``__main__``, so a
    plain script needs no ``if __name__ == "__main__":`` guard. The server imports the
    builders once; workers run numpy, OpenCV (one thread each) and h5py/scipy, never
    TensorFlow.
    """
    if num_workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task_fn(task)
        return
    workers = min(num_workers, len(tasks))
    with process_pool(workers, preload=["tfau.datasets"], initializer=_init_worker) as pool:
        # At most two sequences per worker in flight: finished sequences wait in memory until
        # TFDS has taken the earlier ones, so an unbounded map could hold the whole dataset.
        pending: collections.deque = collections.deque()
        for task in tasks:
            pending.append(pool.submit(task_fn, task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _init_worker() -> None:
    # One OpenCV thread per process: the pool already uses every core.
    cv2.setNumThreads(1)


def beam_transform(
    task_fn: Callable[[Any], SequenceResult], tasks: Sequence[Any], split: str
) -> Any:
    """``beam.Create(tasks) | beam.FlatMap(...)`` yielding the examples of every task.

    Skips are logged by the workers and counted with Beam counters in namespace
    ``tfau.skipped`` (read back by `summary_from_beam`).
    """
    import apache_beam as beam

    def examples_of(task: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        result = task_fn(task)
        beam.metrics.Metrics.counter("tfau.examples", split).inc(len(result.examples))
        for kept in ("kept_without_landmarks", "kept_without_previous"):
            if getattr(result, kept):
                beam.metrics.Metrics.counter("tfau.kept", kept).inc(getattr(result, kept))
        for reason, where in result.skipped:
            logger.warning("Skipped (%s: %s): %s", reason, SKIP_REASONS[reason], where)
            beam.metrics.Metrics.counter("tfau.skipped", reason).inc()
        yield from result.examples

    @beam.ptransform_fn
    def generate_split(pipeline: Any) -> Any:
        return (
            pipeline
            | "CreateTasks" >> beam.Create(list(tasks))
            | "Reshuffle" >> beam.Reshuffle()
            | "Examples" >> beam.FlatMap(examples_of)
        )

    return generate_split()


def add_beam_counters(summary: BuildSummary, pipeline_result: Any) -> None:
    """Adds the counters of `beam_transform` to ``summary``."""
    import apache_beam as beam

    counters = pipeline_result.metrics().query(beam.metrics.MetricsFilter())["counters"]
    for counter in counters:
        namespace, name = counter.key.metric.namespace, counter.key.metric.name
        value = int(counter.committed if counter.committed is not None else counter.attempted)
        if namespace == "tfau.skipped":
            summary.skipped[name] += value
        elif namespace == "tfau.examples":
            summary.examples[name] += value
        elif namespace == "tfau.kept" and name == "kept_without_previous":
            summary.kept_without_previous += value
        elif namespace == "tfau.kept":
            summary.kept_without_landmarks += value


class AUBuilderMixin:
    """Local or Beam generation, and the build summary, for a `GeneratorBasedBuilder`.

    The builder's ``__init__`` takes ``num_workers`` (default: every core). A build given a
    Beam runner or Beam options (``DownloadConfig(beam_runner=...)``) runs under Beam;
    otherwise a process pool runs the sequences and apache_beam is never imported.
    """

    def __init__(self, *, num_workers: int | None = None, **kwargs: Any) -> None:
        if num_workers is not None and (not isinstance(num_workers, int) or num_workers < 1):
            raise ValueError(
                f"`num_workers` must be a positive integer. Received: num_workers={num_workers!r}"
            )
        self.num_workers = num_workers or default_num_workers()
        self._use_beam = False
        self._summary = BuildSummary()
        super().__init__(**kwargs)

    def _download_and_prepare(self, dl_manager: Any, download_config: Any) -> None:
        self._use_beam = (
            download_config.beam_runner is not None or download_config.beam_options is not None
        )
        self._summary = BuildSummary()
        super()._download_and_prepare(dl_manager=dl_manager, download_config=download_config)
        if not self._use_beam:
            self._finish_summary(self._summary)

    def _process_pipeline_result(self, pipeline_result: Any) -> None:
        add_beam_counters(self._summary, pipeline_result)
        self._finish_summary(self._summary)

    def _finish_summary(self, summary: BuildSummary) -> None:
        summary.log(self.name)
        self.info.metadata["build_summary"] = summary.as_dict()

    def _part_generators(self, tasks: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
        """One split per part that has sequences (TFDS cannot write an empty split)."""
        missing = [part for part, part_tasks in tasks.items() if not part_tasks]
        if len(missing) == len(tasks):
            raise ManualDirError(
                f"The manual_dir holds no sequence of a subject in the standard parts "
                f"({', '.join(tasks)}): nothing to build."
            )
        if missing:
            logger.warning("No sequence of parts %s: those splits are not built.", missing)
        return {
            part: self._generate_examples(split=part, tasks=list(part_tasks))
            for part, part_tasks in tasks.items()
            if part_tasks
        }

    def _examples(
        self, split: str, task_fn: Callable[[Any], SequenceResult], tasks: Sequence[Any]
    ) -> Any:
        """The split's examples: a generator locally, a PTransform under Beam."""
        if self._use_beam:
            return beam_transform(task_fn, tasks, split)
        return self._local_examples(split, task_fn, tasks)

    def _local_examples(
        self, split: str, task_fn: Callable[[Any], SequenceResult], tasks: Sequence[Any]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        for result in run_local(task_fn, tasks, self.num_workers):
            self._summary.add(split, result)
            yield from result.examples


# --------------------------------------------------------------------------------------------
# Images and faces


_REDUCED_READ_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_image(data: bytes, reduce: int = 1) -> np.ndarray | None:
    """Decodes JPEG/PNG bytes to RGB uint8; None if the bytes are not a complete image.

    A truncated JPEG still decodes (libjpeg fills the rest with grey and only warns), so a
    JPEG must also end with its end-of-image marker.

    Args:
        data: the encoded image.
        reduce: 1, 2, 4 or 8: decode at that fraction of the size (JPEG scales in the DCT
            domain, much faster than decoding in full and resizing).
    """
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _REDUCED_READ_FLAGS[reduce])
    if image is None:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def decode_reduction(landmarks49: np.ndarray | None, spec: CropSpec) -> int:
    """Largest JPEG decode reduction (1, 2, 4, 8) that still leaves the face over-sampled.

    The face warp shrinks the frame by the scale of its matrix; decoding at 1/f of the size
    is free of loss as long as the warp still shrinks (scale * f <= 1).
    """
    matrix = face_matrix(landmarks49, spec)
    if matrix is None:
        return 1
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    for factor in (8, 4, 2):
        if scale * factor <= 1.0:
            return factor
    return 1


def reduce_points(points: np.ndarray | None, factor: int) -> np.ndarray | None:
    """Pixel coordinates of a frame decoded at 1/``factor`` (pixel centres kept aligned)."""
    if points is None or factor == 1:
        return points
    return ((points + 0.5) / factor - 0.5).astype(np.float32)


def encode_jpeg(image_rgb: np.ndarray) -> bytes:
    """RGB uint8 -> JPEG bytes."""
    ok, buffer = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
    )
    if not ok:
        raise ValueError(f"OpenCV could not encode an image of shape {image_rgb.shape}.")
    return buffer.tobytes()


def valid_landmarks(points: np.ndarray | None, num_points: int) -> bool:
    """True for a finite ``(num_points, 2)`` array that is not all zeros."""
    return (
        points is not None
        and points.shape == (num_points, 2)
        and bool(np.all(np.isfinite(points)))
        and bool(np.any(points != 0))
    )


def box_matrix(landmarks49: np.ndarray, image_size: int) -> np.ndarray:
    """2x3 matrix mapping the frame to the unaligned square face box (see module docstring)."""
    return square_box_matrix(landmarks49, image_size, UNALIGNED_BOX_SCALE, UNALIGNED_BOX_SHIFT)


def face_matrix(
    landmarks49: np.ndarray | None, spec: CropSpec, own_landmarks: bool = True
) -> np.ndarray | None:
    """The 2x3 frame-to-face matrix of a config, or None when it cannot be made.

    Args:
        landmarks49: the frame's landmarks (or, unaligned, a nearby frame's); None: none.
        spec: aligned (JAA-Net similarity, ``tfau.faces``) or unaligned (square box).
        own_landmarks: False when ``landmarks49`` belong to another frame: aligned configs
            then make no face (a similarity transform needs the frame's own landmarks).
    """
    if landmarks49 is None or (spec.aligned and not own_landmarks):
        return None
    if spec.aligned:
        keypoints = keypoints_from_landmarks(landmarks49)
        return similarity_from_keypoints(keypoints, output_size=spec.image_size)
    return box_matrix(landmarks49, spec.image_size)


@dataclasses.dataclass(frozen=True)
class CropSpec:
    """The picklable part of a `FaceConfig` that task functions need.

    ``pairs``: `crop_face` also cuts out the previous frame (``previous_image``).
    """

    aligned: bool
    image_size: int
    pairs: bool = False


def nearest_landmarks(
    frames: Sequence[int], landmarks: Mapping[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """For every frame, the landmarks of the nearest frame that has some (ties: earlier)."""
    known = np.array(sorted(landmarks), dtype=np.int64)
    if known.size == 0:
        return {}
    result = {}
    for frame in frames:
        position = int(np.searchsorted(known, frame))
        candidates = [known[i] for i in (position - 1, position) if 0 <= i < known.size]
        best = min(candidates, key=lambda k: (abs(int(k) - frame), int(k)))
        result[frame] = landmarks[int(best)]
    return result


def crop_face(
    image_rgb: np.ndarray,
    landmarks49: np.ndarray | None,
    spec: CropSpec,
    box_landmarks: np.ndarray | None = None,
    extra_points: Mapping[str, np.ndarray] | None = None,
    previous_rgb: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """Face image and geometry features of one frame (and, pairs configs, of its predecessor).

    Args:
        image_rgb: the frame, ``(height, width, 3)`` uint8.
        landmarks49: the frame's 49 landmarks in frame pixels, or None when it has none.
        spec: aligned or not, and the output size.
        box_landmarks: unaligned crops of a frame without landmarks: the landmarks whose box
            is used instead (the nearest frame's).
        extra_points: other point sets to move with the face (e.g. ``{"landmarks66": ...}``);
            a set that is all zeros or not finite (unknown) is stored as zeros.
        previous_rgb: ``spec.pairs`` only: the previous frame, in the same pixels as
            ``image_rgb`` (same size and decode reduction); None when there is none. It is
            cut out with this frame's matrix, so the pair differs only by the face's motion.

    Returns:
        ``image`` (JPEG bytes), ``landmarks``, ``has_landmarks``, ``interocular_distance``,
        the moved ``extra_points`` and, if ``spec.pairs``, ``previous_image`` (JPEG bytes; the
        frame itself when ``previous_rgb`` is None) and ``has_previous``; None when no face
        box can be made (aligned without landmarks, or unaligned without any box).

    Raises:
        ValueError: ``previous_rgb`` is given but ``spec.pairs`` is False, or its shape
            differs from ``image_rgb``'s.
    """
    if previous_rgb is not None and not spec.pairs:
        raise ValueError("`previous_rgb` is only used by pairs configs (CropSpec.pairs=True).")
    if previous_rgb is not None and previous_rgb.shape != image_rgb.shape:
        raise ValueError(
            f"`previous_rgb` must have the frame's shape {image_rgb.shape}. "
            f"Received: {previous_rgb.shape}"
        )
    has_landmarks = landmarks49 is not None
    matrix = face_matrix(landmarks49 if has_landmarks else box_landmarks, spec, has_landmarks)
    if matrix is None:
        return None
    face = warp_face(image_rgb, matrix, spec.image_size)
    features: dict[str, Any] = {"image": encode_jpeg(face), "has_landmarks": has_landmarks}
    if spec.pairs:
        features["has_previous"] = previous_rgb is not None
        features["previous_image"] = (
            features["image"]
            if previous_rgb is None
            else encode_jpeg(warp_face(previous_rgb, matrix, spec.image_size))
        )
    if has_landmarks:
        moved = transform_points(landmarks49, matrix).astype(np.float32)
        features["landmarks"] = moved
        features["interocular_distance"] = np.float32(inter_ocular_distance(moved))
    else:
        features["landmarks"] = np.zeros((49, 2), np.float32)
        features["interocular_distance"] = np.float32(0.0)
    for name, points in (extra_points or {}).items():
        if valid_landmarks(points, len(points)):
            features[name] = transform_points(points, matrix).astype(np.float32)
        else:
            features[name] = np.zeros(points.shape, np.float32)
    return features


def au_vectors(
    occurrence: Mapping[int, int], intensity: Mapping[int, int], standard_aus: Sequence[int]
) -> dict[str, np.ndarray]:
    """The ``au``, ``au_full``, ``au_full_mask`` and ``au_intensity`` features.

    Args:
        occurrence: AU id -> 1 present / 0 absent / -1 unknown (AUs not listed: unknown).
        intensity: AU id -> 0-5 / -1 unknown (AUs not listed: not coded).
        standard_aus: the dataset's standard AU set, in order.

    Returns:
        The four arrays (int32, int32, bool, int32).
    """
    full = np.full((NUM_AU_SLOTS,), -1, np.int32)
    for au, value in occurrence.items():
        if 1 <= au <= NUM_AU_SLOTS:
            full[au - 1] = value
    intensities = np.full((NUM_AU_SLOTS,), -1, np.int32)
    for au, value in intensity.items():
        if 1 <= au <= NUM_AU_SLOTS:
            intensities[au - 1] = value
    return {
        "au": full[np.asarray(standard_aus) - 1].copy(),
        "au_full": full,
        "au_full_mask": full >= 0,
        "au_intensity": intensities,
    }


def describe_dir(path: epath.Path, limit: int = 20) -> str:
    """A short listing of ``path`` for error messages."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a directory"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    if not names:
        return f"{path} is empty"
    shown = ", ".join(names[:limit])
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"{path} contains: {shown}{more}"


@contextlib.contextmanager
def local_file(path: epath.Path) -> Iterator[str]:
    """A local file name for libraries that cannot read through epath (OpenCV's VideoCapture).

    A remote file (``gs://...``) is copied to a temporary file, removed afterwards.
    """
    text = os.fspath(path)
    if "://" not in text:
        yield text
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = epath.Path(tmp) / path.name
        copy.write_bytes(path.read_bytes())
        yield os.fspath(copy)
