"""Face tracking between detections: optical flow of face corners, ids by box overlap.

The detector (`FaceDetector`, about 40-50 ms per 640 x 480 frame on a quiet 2-core CPU)
runs every ``detect_every`` frames. In between, each face's box and five key points follow the
face with pyramidal Lucas-Kanade optical flow on a downscaled grey frame: up to 40 corners
inside the face box are tracked forward and backward, those whose round trip misses by more
than ``max_flow_error`` pixels are dropped, and a RANSAC similarity transform (rotation, scale,
shift) fitted to the rest moves the box and key points. A face whose corners are lost
(occlusion, blur, a cut) ends its tracking and the detector runs on the next frame; a face the
detector misses while it is still tracked well is kept for ``max_misses`` detector runs.
Detections take face ids from the tracked or recently lost faces they overlap most (box IoU);
unmatched detections start new ids.

The ``confidence`` of a tracked face is its last detection score times the fraction of its
corners that survived since then, halved for each detector miss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from tfau.faces.alignment import transform_points
from tfau.inference.detection import Detection

_MAX_CORNERS = 40
_LK_PARAMS = {
    "winSize": (15, 15),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
}


@dataclasses.dataclass(frozen=True)
class TrackedFace:
    """One face in one frame.

    Attributes:
        face_id: the track's id (0, 1, ... in order of first appearance).
        box: ``(4,)`` ``(x1, y1, x2, y2)`` frame pixels.
        keypoints: ``(5, 2)`` frame pixels, `tfau.faces.KEYPOINT_NAMES` order.
        confidence: detection score (times the surviving fraction of tracked corners).
        detected: True when this frame's position comes from the detector.
    """

    face_id: int
    box: np.ndarray
    keypoints: np.ndarray
    confidence: float
    detected: bool


@dataclasses.dataclass
class _Track:
    face_id: int
    box: np.ndarray
    keypoints: np.ndarray
    detection_confidence: float
    corners: np.ndarray  # (N, 1, 2) float32
    initial_corners: int
    last_seen: int
    misses: int = 0


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class FaceTracker:
    """Detects faces every few frames and tracks them in between, with stable face ids.

    Args:
        detector: a callable frame -> list of `Detection` (e.g. `FaceDetector`).
        detect_every: run the detector every this many frames (1: every frame). It also runs
            whenever a face's tracking fails or no face is tracked. Defaults to 10.
        min_iou: box overlap for a detection to keep a face's id. Defaults to 0.3.
        max_lost: frames a lost face's id stays available for a new detection. Defaults to 30.
        max_flow_error: forward-backward optical-flow error (pixels of the tracking image)
            above which a corner is dropped. Defaults to 1.5.
        min_corners: fewest surviving corners that still track a face. Defaults to 6.
        max_faces: keep at most this many faces (most confident detections); None: all.
        max_misses: detector runs in a row that may miss a face still tracked well before it
            is dropped (detectors miss a face now and then; a face that left the frame loses
            its corners). Its confidence halves at each miss. Defaults to 2.
        tracking_size: shorter side (pixels) of the grey frame the optical flow runs on;
            None: full resolution. Faces are large at these sizes, and LK's cost grows with
            the frame (its pyramids). Defaults to 240.

    Example:
        >>> tracker = FaceTracker(FaceDetector(), detect_every=10)
        >>> for frame in frames:
        ...     faces = tracker.update(frame)  # list of TrackedFace
    """

    def __init__(
        self,
        detector: Callable[[np.ndarray], Sequence[Detection]],
        detect_every: int = 10,
        min_iou: float = 0.3,
        max_lost: int = 30,
        max_flow_error: float = 1.5,
        min_corners: int = 6,
        max_faces: int | None = None,
        max_misses: int = 2,
        tracking_size: int | None = 240,
    ) -> None:
        if not isinstance(detect_every, int) or detect_every < 1:
            raise ValueError(
                "`detect_every` must be a positive integer. "
                f"Received: detect_every={detect_every!r}"
            )
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"`min_iou` must be in (0, 1]. Received: min_iou={min_iou}")
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"`max_faces` must be None or >= 1. Received: max_faces={max_faces}")
        self.detector = detector
        self.detect_every = detect_every
        self.min_iou = float(min_iou)
        self.max_lost = int(max_lost)
        self.max_flow_error = float(max_flow_error)
        self.min_corners = int(min_corners)
        self.max_faces = max_faces
        self.max_misses = int(max_misses)
        if tracking_size is not None and tracking_size < 32:
            raise ValueError(
                f"`tracking_size` must be None or >= 32. Received: tracking_size={tracking_size}"
            )
        self.tracking_size = tracking_size
        self._scale = np.array([1.0, 1.0])
        self.detections_run = 0
        self.reset()

    def reset(self) -> None:
        """Forgets every face (e.g. before a new video); ids restart at 0."""
        self._active: list[_Track] = []
        self._lost: list[_Track] = []
        self._previous: np.ndarray | None = None
        self._frame = -1
        self._last_detection = -(10**9)
        self._next_id = 0

    def update(self, frame: np.ndarray) -> list[TrackedFace]:
        """Processes the next frame of the sequence.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB.

        Returns:
            The faces of this frame, by face id.
        """
        self._frame += 1
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        height, width = grey.shape
        self._scale = np.array([1.0, 1.0])
        if self.tracking_size is not None and min(height, width) > self.tracking_size:
            factor = self.tracking_size / min(height, width)
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            self._scale = np.array([size[0] / width, size[1] / height])
        failed = False
        if self._previous is not None and self._previous.shape != grey.shape:
            # A new image size (e.g. a folder of photos): nothing can be followed.
            for track in self._active:
                self._lose(track)
            self._active = []
        if self._previous is not None and self._active:
            kept = []
            for track in self._active:
                if self._follow(track, self._previous, grey):
                    kept.append(track)
                else:
                    failed = True
                    self._lose(track)
            self._active = kept
        due = self._frame - self._last_detection >= self.detect_every
        detected_ids: set[int] = set()
        if due or failed or not self._active:
            detected_ids = self._detect(frame, grey)
        self._previous = grey
        self._lost = [t for t in self._lost if self._frame - t.last_seen <= self.max_lost]
        for track in self._active:
            track.last_seen = self._frame
        return [
            TrackedFace(
                face_id=t.face_id,
                box=t.box.copy(),
                keypoints=t.keypoints.copy(),
                confidence=t.detection_confidence
                * 0.5**t.misses
                * min(1.0, len(t.corners) / max(t.initial_corners, 1)),
                detected=t.face_id in detected_ids,
            )
            for t in sorted(self._active, key=lambda t: t.face_id)
        ]

    def _lose(self, track: _Track) -> None:
        track.last_seen = self._frame - 1
        self._lost.append(track)

    def _follow(self, track: _Track, previous: np.ndarray, grey: np.ndarray) -> bool:
        """Moves ``track`` from ``previous`` to ``grey``; False when it cannot be followed."""
        if len(track.corners) < self.min_corners:
            return False
        forward, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, grey, track.corners, None, **_LK_PARAMS
        )
        backward, status_back, _ = cv2.calcOpticalFlowPyrLK(
            grey, previous, forward, None, **_LK_PARAMS
        )
        error = np.linalg.norm((backward - track.corners).reshape(-1, 2), axis=1)
        good = (status.ravel() == 1) & (status_back.ravel() == 1) & (error < self.max_flow_error)
        if good.sum() < self.min_corners:
            return False
        matrix, inliers = cv2.estimateAffinePartial2D(
            track.corners[good], forward[good], method=cv2.RANSAC, ransacReprojThreshold=2.0
        )
        if matrix is None or inliers is None or int(inliers.sum()) < self.min_corners:
            return False
        # The matrix works in tracking pixels; boxes and key points stay in frame pixels.
        scale = self._scale
        track.keypoints = transform_points(track.keypoints * scale, matrix) / scale
        corners = transform_points(track.box.reshape(2, 2) * scale, matrix) / scale
        track.box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
        track.corners = forward[good][inliers.ravel() == 1]
        return True

    def _corners(self, grey: np.ndarray, box: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """Corners to follow inside ``box`` (frame pixels), in tracking pixels."""
        box = box * np.tile(self._scale, 2)
        keypoints = keypoints * self._scale
        height, width = grey.shape
        x1, y1 = np.clip(np.floor(box[:2]).astype(int), 0, [width, height])
        x2, y2 = np.clip(np.ceil(box[2:]).astype(int), 0, [width, height])
        mask = np.zeros_like(grey)
        mask[y1:y2, x1:x2] = 255
        minimum = max(3, int(0.04 * (box[2] - box[0])))
        found = cv2.goodFeaturesToTrack(grey, _MAX_CORNERS, 0.01, minimum, mask=mask)
        found = np.zeros((0, 1, 2), np.float32) if found is None else found.astype(np.float32)
        return np.concatenate([found, keypoints.astype(np.float32)[:, None]], axis=0)

    def _detect(self, frame: np.ndarray, grey: np.ndarray) -> set[int]:
        """Runs the detector; matches detections to tracks by IoU. Returns the detected ids."""
        self.detections_run += 1
        self._last_detection = self._frame
        detections = list(self.detector(frame))
        if self.max_faces is not None:
            detections = detections[: self.max_faces]
        candidates = self._active + self._lost
        pairs = sorted(
            (
                (box_iou(d.box, t.box), i, j)
                for i, d in enumerate(detections)
                for j, t in enumerate(candidates)
            ),
            reverse=True,
        )
        used_detections: set[int] = set()
        used_tracks: set[int] = set()
        assignment: dict[int, _Track] = {}
        for iou, i, j in pairs:
            if iou < self.min_iou:
                break
            if i in used_detections or j in used_tracks:
                continue
            used_detections.add(i)
            used_tracks.add(j)
            assignment[i] = candidates[j]
        active = []
        for i, detection in enumerate(detections):
            track = assignment.get(i)
            if track is None:
                empty = np.zeros((0, 1, 2), np.float32)
                track = _Track(self._next_id, detection.box, detection.keypoints, 0.0, empty, 0, 0)
                self._next_id += 1
            track.box = np.asarray(detection.box, np.float64)
            track.keypoints = np.asarray(detection.keypoints, np.float64)
            track.detection_confidence = float(detection.confidence)
            track.misses = 0
            track.corners = self._corners(grey, track.box, track.keypoints)
            track.initial_corners = len(track.corners)
            active.append(track)
        matched = {id(t) for t in assignment.values()}
        for track in self._active:
            if id(track) in matched:
                continue
            track.misses += 1
            if track.misses > self.max_misses:
                self._lose(track)
            else:
                active.append(track)
        self._lost = [t for t in self._lost if id(t) not in matched]
        if self.max_faces is not None:
            for track in active[self.max_faces :]:
                self._lose(track)
            active = active[: self.max_faces]
        self._active = active
        return {t.face_id for t in active[: len(detections)]}


__all__ = ["FaceTracker", "TrackedFace", "box_iou"]
