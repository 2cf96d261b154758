"""Video and image inference: detect, track, align, predict, smooth, write an OpenFace-style CSV.

`Predictor` runs the whole chain on a video file, a webcam, a folder of images or a list of
images (or any iterable of RGB frames) and writes one CSV row per face per frame, in frame
order, as the video streams:

1. `FaceTracker`: MTCNN every ``detect_every`` frames, optical-flow tracking in between,
   face ids by box overlap.
2. dlib's 68 landmarks on each face box (`LandmarkDetector`), when the ``landmarks`` extra is
   installed or the network needs them (E-Net, EAC-Net).
3. JAA-Net's similarity alignment from five key points (`tfau.faces.alignment`): those of the
   68 landmarks when they were computed (2.1 px from the true landmarks' alignment in the
   200 px face on SynthAU, against 2.7 px for MTCNN's own five), else the tracked key points;
   or (``crop="unaligned"``) the square box around the 49 landmarks that the
   ``unaligned<size>`` datasets cut, which EAC-Net's and AUNets' experiments train on.
4. The network on batches of ``batch_size`` aligned faces (`AUModel`); E-Net and EAC-Net also
   get the 49 landmarks in the aligned face's pixels, AUNets' optical-flow fusions the
   previous frame cut out with the face's own alignment (as the ``*_pairs`` datasets store
   it), or the face itself (zero flow, as training treats a first frame) where the track has
   no face in the previous frame: its first frame, or after the face was lost.
5. Median smoothing of the probabilities along each face track (`TrackSmoother`); an AU
   occurs where the smoothed probability reaches the model's threshold.

CSV columns (OpenFace's names): ``frame`` (1-based, as OpenFace), ``face_id``, ``timestamp``
(seconds), ``confidence``, ``success``, ``x_0..x_{n-1}`` and ``y_0..y_{n-1}`` (frame pixels:
the 68 landmarks when they were computed, as OpenFace 2 numbers them; else the network's 49
for JAA-Net; else the five tracked key points in `tfau.faces.KEYPOINT_NAMES` order), JAA-Net's
own 49 as ``net_x_i`` / ``net_y_i`` beside the 68, ``AUxx_p`` (smoothed probability) and
``AUxx_c`` (0/1 occurrence) per AU. A frame without a face gets one row with ``face_id`` -1,
``success`` 0 and zeros elsewhere, as OpenFace writes failed frames; it is never dropped. Rows
are flushed to disk as soon as they are final, so what was computed before an error is kept.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from tfau.data.smoothing import TrackSmoother
from tfau.faces.alignment import (
    align_face_from_keypoints,
    invert_transform,
    keypoints_from_landmarks,
    square_box_matrix,
    transform_points,
    warp_face,
)
from tfau.faces.schemes import convert_landmarks
from tfau.inference.detection import FaceDetector
from tfau.inference.landmarks import LANDMARKS_INSTALL, LandmarkDetector, landmarks_available
from tfau.inference.model import AUModel, load_model
from tfau.inference.tracking import FaceTracker

#: Image file extensions read from a folder.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Stage names of `PredictionSummary.stage_seconds`.
STAGES = ("read", "detect", "track", "align", "network", "write")
#: Where the alignment's five points come from (`Predictor`'s ``align_from``).
ALIGN_FROM = ("auto", "landmarks", "keypoints")
#: How faces are cut out (`Predictor`'s ``crop``), as the dataset configs of those names.
CROPS = ("aligned", "unaligned")
_NUM_KEYPOINTS = 5
_NUM_LANDMARKS = 49
_NUM_LANDMARKS_68 = 68


@dataclasses.dataclass
class PredictionSummary:
    """What one `Predictor` run did.

    Attributes:
        csv_path: the CSV written.
        frames: frames read.
        face_rows: rows with a face (``success`` 1).
        frames_without_face: frames written with ``success`` 0.
        face_ids: number of distinct face ids.
        detections: detector runs.
        seconds: wall time end to end.
        stage_seconds: wall time per stage (`STAGES`).
        interrupted: stopped by Ctrl-C (KeyboardInterrupt); the frames read are written.
    """

    csv_path: str
    frames: int = 0
    face_rows: int = 0
    frames_without_face: int = 0
    face_ids: int = 0
    detections: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stage_seconds: dict[str, float] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(STAGES, 0.0)
    )

    @property
    def fps(self) -> float:
        """Frames per second end to end."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass
class _FaceRow:
    face_id: int
    frame: int
    confidence: float
    keypoints: np.ndarray
    matrix: np.ndarray
    handle: Any = None
    landmarks: np.ndarray | None = None
    landmarks68: np.ndarray | None = None


@dataclasses.dataclass
class _FaceInputs:
    image: np.ndarray
    landmarks: np.ndarray | None = None
    previous: np.ndarray | None = None


@dataclasses.dataclass
class _FrameRecord:
    number: int
    timestamp: float
    faces: list[_FaceRow]


class _TimedDetector:
    """Counts the detector's wall time (the tracker's time minus this is tracking)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.seconds = 0.0

    def __call__(self, frame: np.ndarray) -> Any:
        start = time.perf_counter()
        try:
            return self.detector(frame)
        finally:
            self.seconds += time.perf_counter() - start


def csv_columns(au_names: Sequence[str], num_points: int, network_points: int = 0) -> list[str]:
    """The CSV header: OpenFace's frame columns, landmarks, then ``AUxx_p`` and ``AUxx_c``.

    ``network_points``: the network's own landmarks beside the 68 (``net_x_i``, ``net_y_i``).
    """
    return [
        "frame",
        "face_id",
        "timestamp",
        "confidence",
        "success",
        *(f"x_{i}" for i in range(num_points)),
        *(f"y_{i}" for i in range(num_points)),
        *(f"net_x_{i}" for i in range(network_points)),
        *(f"net_y_{i}" for i in range(network_points)),
        *(f"{name}_p" for name in au_names),
        *(f"{name}_c" for name in au_names),
    ]


def list_images(path: str | os.PathLike[str]) -> list[str]:
    """The image files of a folder, sorted by name (or ``[path]`` for one image)."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No image or folder at {path!r}.")
    files = sorted(
        os.path.join(path, name)
        for name in os.listdir(path)
        if name.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not files:
        raise ValueError(
            f"The folder {path!r} holds no images (expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)})."
        )
    return files


def read_image(path: str) -> np.ndarray:
    """One image file as RGB uint8; a clear error when OpenCV cannot decode it."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"Cannot read the image {path!r}: not a file OpenCV can decode.")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_video(
    source: str | int | os.PathLike[str], max_frames: int | None = None
) -> tuple[Iterator[tuple[np.ndarray, float]], int | None]:
    """Opens a video file or webcam index; returns (RGB frames with timestamps, frame count).

    Raises:
        FileNotFoundError: no such file.
        ValueError: OpenCV cannot open it, or it holds no frame.
    """
    if not isinstance(source, int):
        source = os.fspath(source)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"No video file at {source!r}.")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        if isinstance(source, int):
            raise ValueError(
                f"Cannot open webcam {source}: no such camera, or OpenCV cannot read it."
            )
        raise ValueError(f"Cannot open the video {source!r}: not a video OpenCV can decode.")
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        what = f"Webcam {source}" if isinstance(source, int) else f"The video {source!r}"
        raise ValueError(f"{what} holds no readable frame (empty or corrupt).")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    total = None if isinstance(source, int) or count <= 0 else count
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)

    def frames() -> Iterator[tuple[np.ndarray, float]]:
        try:
            frame, index = first, 0
            while frame is not None and (max_frames is None or index < max_frames):
                if fps > 0:
                    timestamp = index / fps
                else:
                    timestamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), timestamp
                index += 1
                ok, frame = capture.read()
                if not ok:
                    frame = None
        finally:
            capture.release()

    return frames(), total


class Predictor:
    """Per-frame AU occurrence of every face of a video or image sequence, as a CSV.

    Args:
        model: an `AUModel`, or the path of a ``.keras`` file / exported SavedModel.
        aus: AUs to predict (see `load_model`); only with a path.
        model_name: ``.keras`` registry name; only with a path.
        mean: ``.keras`` RGB training mean (DRML); only with a path.
        threshold: occurrence threshold (default: the model's).
        smoothing: median window in frames along each face track, odd (1: none; AUNets
            use 3, 5, 7). Defaults to 1.
        detect_every: run the face detector every this many frames. Defaults to 10.
        detection_size: shorter side of the frame as the detector sees it. Defaults to 240.
        detector_thresholds: MTCNN's PNet, RNet and ONet score thresholds (the last is the
            final score a face needs). Defaults to ``(0.6, 0.7, 0.8)``.
        max_faces: most faces per frame (most confident); None: all.
        batch_size: aligned faces per network call. Defaults to 16.
        progress: show a progress bar with frames per second. Defaults to False.
        detector: a callable RGB frame -> list of `Detection` replacing MTCNN (e.g. one
            built on dlib's 68 landmarks); ``detection_size`` and ``detector_thresholds`` are
            then unused.
        landmarks: place dlib's 68 landmarks on every face (`LandmarkDetector`, the optional
            extra ``pip install "tfau[landmarks]"``, non-commercial model). None: when the
            extra is installed or the network needs them (E-Net, EAC-Net); True: always (an
            error without the extra); False: never (an error for E-Net and EAC-Net).
        align_from: the alignment's five points: ``"landmarks"`` (the 68 landmarks' eye
            centres, nose tip and mouth corners, as the datasets align), ``"keypoints"`` (the
            detector's, tracked), or ``"auto"``: the landmarks when they are computed.
            Defaults to ``"auto"``.
        crop: ``"aligned"``: JAA-Net's similarity alignment (the ``aligned<size>`` datasets);
            ``"unaligned"``: the square box around the 49 landmarks, not rotated
            (`tfau.faces.square_box_matrix`, the ``unaligned<size>`` datasets EAC-Net's and
            AUNets' experiments train on; needs the 68 landmarks). Defaults to ``"aligned"``.

    Example:
        >>> predictor = Predictor("exported/jaanet", smoothing=5)
        >>> summary = predictor.predict_video("talk.mp4", "talk_aus.csv")
        >>> summary.csv_path, summary.frames_without_face  # doctest: +SKIP
        ('talk_aus.csv', 0)
    """

    def __init__(
        self,
        model: AUModel | str | os.PathLike[str],
        *,
        aus: Sequence[int] | None = None,
        model_name: str | None = None,
        mean: Sequence[float] | None = None,
        threshold: float | None = None,
        smoothing: int = 1,
        detect_every: int = 10,
        detection_size: int | None = 240,
        detector_thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
        max_faces: int | None = None,
        batch_size: int = 16,
        progress: bool = False,
        detector: Any = None,
        landmarks: bool | None = None,
        align_from: str = "auto",
        crop: str = "aligned",
    ) -> None:
        if isinstance(model, AUModel):
            if aus is not None or model_name is not None or mean is not None:
                raise ValueError(
                    "`aus`, `model_name` and `mean` apply when loading a model from a path; "
                    "received an already loaded AUModel."
                )
        else:
            model = load_model(model, aus=aus, model_name=model_name, mean=mean)
        if threshold is not None:
            if not 0.0 < threshold < 1.0:
                raise ValueError(f"`threshold` must be in (0, 1). Received: threshold={threshold}")
            model = dataclasses.replace(model, threshold=float(threshold))
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        TrackSmoother(smoothing)  # validates the window
        if align_from not in ALIGN_FROM:
            raise ValueError(
                f"`align_from` must be one of {ALIGN_FROM}. Received: align_from={align_from!r}"
            )
        if crop not in CROPS:
            raise ValueError(f"`crop` must be one of {CROPS}. Received: crop={crop!r}")
        if crop == "unaligned":
            if landmarks is False:
                raise ValueError(
                    "crop='unaligned' needs the 68 landmarks; received landmarks=False."
                )
            landmarks = True
        if landmarks is None:
            landmarks = model.needs_landmarks or landmarks_available()
        elif not landmarks and model.needs_landmarks:
            raise ValueError(
                f"{model.model_name} takes each face's 49 landmarks: they come from the 68-point "
                f"landmark detector ({LANDMARKS_INSTALL}); received landmarks=False."
            )
        if align_from == "landmarks" and not landmarks:
            raise ValueError(
                "align_from='landmarks' needs the 68 landmarks; received landmarks=False."
            )
        # Raises an ImportError naming the extra when it is not installed.
        self.landmark_detector = LandmarkDetector() if landmarks else None
        self.align_from = align_from
        self.crop = crop
        self.model = model
        self.smoothing = smoothing
        self.batch_size = batch_size
        self.progress = progress
        if detector is None:
            detector = FaceDetector(detection_size=detection_size, thresholds=detector_thresholds)
        self._detector = _TimedDetector(detector)
        self.tracker = FaceTracker(self._detector, detect_every=detect_every, max_faces=max_faces)
        # The previous frame and the face ids it held (optical-flow networks).
        self._previous: tuple[np.ndarray, set[int]] | None = None

    @property
    def num_points(self) -> int:
        """Landmark columns per axis in the CSV: 68 when computed, 49 for JAA-Net, else 5."""
        if self.landmark_detector is not None:
            return _NUM_LANDMARKS_68
        return _NUM_LANDMARKS if self.model.predicts_landmarks else _NUM_KEYPOINTS

    @property
    def network_points(self) -> int:
        """The network's own landmark columns beside the 68 (``net_x_i``): 49 or 0."""
        if self.landmark_detector is not None and self.model.predicts_landmarks:
            return _NUM_LANDMARKS
        return 0

    @property
    def aligns_from_landmarks(self) -> bool:
        """True when faces are aligned from the 68 landmarks' five points."""
        return self.landmark_detector is not None and self.align_from != "keypoints"

    def reset(self) -> None:
        """Forgets the faces tracked so far (the next frame starts new tracks)."""
        self.tracker.reset()
        self._previous = None

    def predict_video(
        self,
        source: str | int | os.PathLike[str],
        csv_path: str | os.PathLike[str],
        *,
        max_frames: int | None = None,
    ) -> PredictionSummary:
        """Predicts every frame of a video file or webcam (index) into ``csv_path``.

        Args:
            source: video file, or an integer webcam index.
            csv_path: CSV to write.
            max_frames: stop after this many frames (None: the whole video; a webcam runs
                until interrupted).

        Returns:
            A `PredictionSummary`.
        """
        frames, total = read_video(source, max_frames)
        return self.predict_frames(frames, csv_path, total=total)

    def predict_images(
        self,
        images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        csv_path: str | os.PathLike[str],
        *,
        sequence: bool = True,
        fps: float = 30.0,
    ) -> PredictionSummary:
        """Predicts one image, a folder of images (sorted by name) or a list of image files.

        Args:
            images: an image file, a folder, or a list of image files.
            csv_path: CSV to write (one frame per image, in order).
            sequence: True: the images are consecutive frames (faces tracked, ids kept,
                smoothing applies); False: each image is detected on its own.
            fps: frame rate for the ``timestamp`` column. Defaults to 30.

        Returns:
            A `PredictionSummary`.
        """
        if isinstance(images, str | os.PathLike):
            paths = list_images(images)
        else:
            paths = [os.fspath(p) for p in images]
            if not paths:
                raise ValueError("Expected at least one image path. Received: []")
        if fps <= 0:
            raise ValueError(f"`fps` must be > 0. Received: fps={fps}")

        def frames() -> Iterator[tuple[np.ndarray, float]]:
            for index, path in enumerate(paths):
                if not sequence:
                    self.reset()
                yield read_image(path), index / fps

        return self.predict_frames(frames(), csv_path, total=len(paths), reset=sequence)

    def predict_frames(
        self,
        frames: Iterable[tuple[np.ndarray, float]] | Iterable[np.ndarray],
        csv_path: str | os.PathLike[str],
        *,
        total: int | None = None,
        fps: float = 30.0,
        reset: bool = True,
    ) -> PredictionSummary:
        """Predicts a stream of RGB frames (or ``(frame, timestamp)`` pairs) into a CSV.

        Reading, tracking and alignment run in a second thread, ahead of the network by up to
        two batches, so that they overlap with it (OpenCV and TensorFlow release the GIL).

        Args:
            frames: uint8 RGB ``(H, W, 3)`` frames, or ``(frame, timestamp_seconds)`` pairs.
            csv_path: CSV to write.
            total: number of frames, for the progress bar.
            fps: frame rate for timestamps of bare frames. Defaults to 30.
            reset: forget the faces of a previous run first. Defaults to True.

        Returns:
            A `PredictionSummary`; rows computed before an error are in the CSV. When the
            frames fail (a broken video), every frame read before is predicted and written,
            then the error is raised; Ctrl-C ends the run the same way, without an error.
        """
        csv_path = os.fspath(csv_path)
        summary = PredictionSummary(csv_path)
        if reset:
            self.reset()
        detections_before = self.tracker.detections_run
        self._detector.seconds = 0.0
        stages = summary.stage_seconds
        model = self.model
        smoother = TrackSmoother(self.smoothing)
        pending: deque[_FrameRecord] = deque()
        batch: list[tuple[_FaceRow, _FaceInputs]] = []
        face_ids: set[int] = set()
        predicted = last = 0  # frames whose faces all went through the network; frames read
        start = time.perf_counter()
        os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="frame", desc="predict", dynamic_ncols=True)
        produced: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=2 * self.batch_size)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(frames, fps, stages, produced, stop), daemon=True
        )

        with open(csv_path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(csv_columns(model.au_names, self.num_points, self.network_points))
            file.flush()

            def take(record: _FrameRecord, faces: list[_FaceInputs]) -> None:
                nonlocal last
                pending.append(record)
                batch.extend(zip(record.faces, faces, strict=True))
                face_ids.update(row.face_id for row in record.faces)
                summary.frames += 1
                summary.face_rows += len(record.faces)
                summary.frames_without_face += not record.faces
                last = record.number
                if bar is not None:
                    bar.update(1)

            def run_network() -> None:
                nonlocal predicted
                if batch:
                    tick = time.perf_counter()
                    inputs = [face for _, face in batch]
                    outputs = model(
                        np.stack([face.image for face in inputs]),
                        landmarks=np.stack([face.landmarks for face in inputs])
                        if model.needs_landmarks
                        else None,
                        previous=np.stack([face.previous for face in inputs])
                        if model.needs_flow
                        else None,
                    )
                    stages["network"] += time.perf_counter() - tick
                    for k, (row, _) in enumerate(batch):
                        row.handle = smoother.add(row.face_id, row.frame, outputs["au"][k])
                        if "landmarks" in outputs:
                            row.landmarks = transform_points(
                                outputs["landmarks"][k], invert_transform(row.matrix)
                            )
                    batch.clear()
                predicted = last

            def write_ready(up_to: int) -> None:
                tick = time.perf_counter()
                written = False
                while pending and pending[0].number <= up_to:
                    writer.writerows(self._rows(pending.popleft(), smoother))
                    written = True
                if written:
                    file.flush()
                stages["write"] += time.perf_counter() - tick

            def finish() -> None:
                run_network()
                write_ready(last)

            producer.start()
            try:
                while True:
                    kind, payload, faces = produced.get()
                    if kind == "end":
                        break
                    if kind == "error":
                        # The input failed: what was read before it is predicted and kept.
                        finish()
                        raise payload
                    take(payload, faces)
                    if len(batch) >= self.batch_size:
                        run_network()
                    write_ready(predicted - smoother.half)
                finish()
            except KeyboardInterrupt:
                # The way a webcam run stops: finish the frames read so far.
                summary.interrupted = True
                stop.set()
                while producer.is_alive() or not produced.empty():
                    try:
                        kind, payload, faces = produced.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    if kind == "frame":
                        take(payload, faces)
                finish()
            except BaseException:
                # The network or the disk failed: keep the rows that are final.
                write_ready(predicted)
                raise
            finally:
                stop.set()
                while producer.is_alive():
                    try:
                        produced.get(timeout=0.1)
                    except queue.Empty:
                        pass
                if bar is not None:
                    bar.close()
                summary.seconds = time.perf_counter() - start
                summary.face_ids = len(face_ids)
                summary.detections = self.tracker.detections_run - detections_before
        return summary

    def _produce(
        self,
        frames: Iterable[Any],
        fps: float,
        stages: dict[str, float],
        produced: queue.Queue[tuple[str, Any, Any]],
        stop: threading.Event,
    ) -> None:
        """Reads, tracks and aligns frames into ``produced`` (runs in its own thread)."""

        def put(item: tuple[str, Any, Any]) -> bool:
            while True:
                try:
                    produced.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    if stop.is_set():
                        return False

        model = self.model
        number = 0
        try:
            iterator = iter(frames)
            while not stop.is_set():
                tick = time.perf_counter()
                item = next(iterator, None)
                if item is None:
                    break
                frame, timestamp = item if isinstance(item, tuple) else (item, number / fps)
                frame = _check_frame(frame, number + 1)
                stages["read"] += time.perf_counter() - tick
                number += 1

                tick = time.perf_counter()
                detect_before = self._detector.seconds
                tracked = self.tracker.update(frame)
                detect = self._detector.seconds - detect_before
                stages["detect"] += detect
                stages["track"] += time.perf_counter() - tick - detect

                tick = time.perf_counter()
                record = _FrameRecord(number, float(timestamp), [])
                faces = []
                landmarks68: Sequence[np.ndarray | None] = [None] * len(tracked)
                if self.landmark_detector is not None and tracked:
                    landmarks68 = self.landmark_detector(frame, [face.box for face in tracked])
                for face, points in zip(tracked, landmarks68, strict=True):
                    image, matrix = self._cut_out(frame, face.keypoints, points)
                    row = _FaceRow(face.face_id, number, face.confidence, face.keypoints, matrix)
                    row.landmarks68 = points
                    record.faces.append(row)
                    faces.append(self._face_inputs(image, matrix, points, face))
                if model.needs_flow:
                    self._previous = (frame, {face.face_id for face in tracked})
                stages["align"] += time.perf_counter() - tick
                if not put(("frame", record, faces)):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put(("error", error, None))
            return
        put(("end", None, None))

    def _cut_out(
        self, frame: np.ndarray, keypoints: np.ndarray, landmarks68: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The face image the network takes and its frame -> face matrix."""
        model = self.model
        if self.crop == "unaligned":
            matrix = square_box_matrix(convert_landmarks(landmarks68, 49), model.face_size)
            return warp_face(frame, matrix, model.face_size), matrix
        if landmarks68 is not None and self.aligns_from_landmarks:
            keypoints = keypoints_from_landmarks(landmarks68)
        aligned = align_face_from_keypoints(
            frame, keypoints, output_size=model.face_size, box_enlarge=model.box_enlarge
        )
        return aligned.image, aligned.matrix

    def _face_inputs(
        self, image: np.ndarray, matrix: np.ndarray, landmarks68: np.ndarray | None, face: Any
    ) -> _FaceInputs:
        """What the network takes for one aligned face besides the image."""
        model = self.model
        inputs = _FaceInputs(image)
        if model.needs_landmarks:
            # The 49 points in the aligned face's pixels, as the datasets store them.
            inputs.landmarks = transform_points(convert_landmarks(landmarks68, 49), matrix).astype(
                np.float32
            )
        if model.needs_flow:
            previous = self._previous
            if previous is not None and face.face_id in previous[1]:
                # The previous frame cut out with this frame's matrix, as the *_pairs datasets
                # store it: the flow measures the face's motion, not the box's.
                inputs.previous = warp_face(previous[0], matrix, model.face_size)
            else:
                # No previous face in this track (first frame, or the face was lost): the face
                # itself, zero flow, as the datasets store a sequence's first frame.
                inputs.previous = image
        return inputs

    def _rows(self, record: _FrameRecord, smoother: TrackSmoother) -> list[list[Any]]:
        model = self.model
        num_aus = len(model.aus)
        points = self.num_points
        network_points = self.network_points
        if not record.faces:
            zeros = ["0"] * (2 * points + 2 * network_points + 2 * num_aus)
            return [[record.number, -1, f"{record.timestamp:.3f}", "0", 0, *zeros]]
        rows = []
        for face in record.faces:
            probabilities = smoother.value(face.handle)
            if face.landmarks68 is not None:
                landmarks = face.landmarks68
            elif model.predicts_landmarks:
                landmarks = face.landmarks
            else:
                landmarks = face.keypoints
            extra = face.landmarks if network_points else np.zeros((0, 2))
            occurrence = (probabilities >= model.threshold).astype(int)
            rows.append(
                [
                    record.number,
                    face.face_id,
                    f"{record.timestamp:.3f}",
                    f"{face.confidence:.3f}",
                    1,
                    *(f"{v:.2f}" for v in landmarks[:, 0]),
                    *(f"{v:.2f}" for v in landmarks[:, 1]),
                    *(f"{v:.2f}" for v in extra[:, 0]),
                    *(f"{v:.2f}" for v in extra[:, 1]),
                    *(f"{v:.4f}" for v in probabilities),
                    *occurrence.tolist(),
                ]
            )
        return rows


def _check_frame(frame: Any, number: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or 0 in frame.shape:
        raise ValueError(
            f"Frame {number}: expected an RGB uint8 image of shape (height, width, 3). "
            f"Received: shape={frame.shape}, dtype={frame.dtype}"
        )
    return frame


__all__ = [
    "ALIGN_FROM",
    "CROPS",
    "IMAGE_EXTENSIONS",
    "STAGES",
    "PredictionSummary",
    "Predictor",
    "csv_columns",
    "list_images",
    "read_image",
    "read_video",
]
