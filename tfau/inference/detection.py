"""Offline face detection with MTCNN: boxes and the five key points JAA-Net aligns from.

`FaceDetector` wraps the ``mtcnn`` package (weights inside the wheel, nothing downloaded). Two
things make it usable for video on a CPU:

- MTCNN's three networks are Keras models called eagerly once per pyramid scale, so Python
  dispatch costs more than the convolutions (about 125 ms per 640 x 480 frame eagerly). Each
  stage's network is wrapped in one ``tf.function`` with unknown spatial sizes, which traces
  once and serves every scale.
- ``mtcnn`` 1.0 sizes its scale pyramid from the image alone, ignoring ``min_face_size``: with a
  ``min_face_size`` above about 23 px its smallest scales fall below PNet's 12 px input and the
  whole detection fails with "no face". Faces larger than that are found by running the
  detector on a downscaled copy of the frame (``detection_size``), which also makes it faster;
  boxes and key points are scaled back to frame pixels.

Reference:
    Zhang et al., "Joint Face Detection and Alignment Using Multitask Cascaded Convolutional
    Networks", IEEE SPL 2016.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected face.

    Attributes:
        box: ``(4,)`` float64 ``(x1, y1, x2, y2)`` in frame pixels.
        keypoints: ``(5, 2)`` float64 in `tfau.faces.KEYPOINT_NAMES` order (image-left eye,
            image-right eye, nose tip, image-left and image-right mouth corners).
        confidence: the detector's score in [0, 1].
    """

    box: np.ndarray
    keypoints: np.ndarray
    confidence: float


class FaceDetector:
    """MTCNN face detector returning boxes and five key points in frame pixels.

    Args:
        detection_size: the shorter side (pixels) the frame is resized to before detection;
            ``None`` detects at full resolution. Faces smaller than about
            ``20 * frame_side / detection_size`` pixels are missed. Defaults to 240.
        thresholds: PNet, RNet and ONet score thresholds of MTCNN's cascade; the ONet one
            is the final score a face needs. Lower values find harder faces (profile, blur,
            drawn faces) and more false ones. Defaults to ``(0.6, 0.7, 0.8)`` (MTCNN's own).

    Example:
        >>> detector = FaceDetector()
        >>> faces = detector(frame_rgb)  # list of Detection
        >>> faces[0].keypoints.shape
        (5, 2)

    Reference:
        Zhang et al., "Joint Face Detection and Alignment Using Multitask Cascaded
        Convolutional Networks", IEEE SPL 2016.
    """

    def __init__(
        self,
        detection_size: int | None = 240,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8),
    ) -> None:
        if detection_size is not None and (
            not isinstance(detection_size, int) or detection_size < 48
        ):
            raise ValueError(
                "`detection_size` must be None or an integer >= 48 (pixels). "
                f"Received: detection_size={detection_size!r}"
            )
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError(
                "`thresholds` must be three values in [0, 1] (PNet, RNet, ONet). "
                f"Received: thresholds={thresholds!r}"
            )
        self.detection_size = detection_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self._mtcnn = _load_mtcnn()

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """Detects the faces of one RGB frame.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB image.

        Returns:
            The faces, most confident first (possibly none).
        """
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                "Expected an RGB uint8 frame of shape (height, width, 3). "
                f"Received: shape={frame.shape}, dtype={frame.dtype}"
            )
        height, width = frame.shape[:2]
        image = frame
        scale_xy = np.array([1.0, 1.0])
        if self.detection_size is not None and min(height, width) > self.detection_size:
            scale = self.detection_size / min(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            # Exact per-axis factors after rounding the resized size.
            scale_xy = np.array([size[0] / width, size[1] / height])
        pnet, rnet, onet = self.thresholds
        # Numpy rows: image index, x1, y1, x2, y2, score, the five key points' x then their y,
        # in KEYPOINT_NAMES order (JSON output would round them to whole pixels).
        found = self._mtcnn.detect_faces(
            image,
            box_format="xyxy",
            output_type="numpy",
            threshold_pnet=pnet,
            threshold_rnet=rnet,
            threshold_onet=onet,
        )
        detections = []
        for row in np.asarray(found, np.float64).reshape(-1, 16):
            confidence = float(row[5])
            box = row[1:5].reshape(2, 2) / scale_xy
            keypoints = np.stack([row[6:11], row[11:16]], axis=1) / scale_xy
            detections.append(Detection(box.reshape(4), keypoints, confidence))
        return sorted(detections, key=lambda d: -d.confidence)


_MTCNN_CACHE: dict[str, Any] = {}


def _load_mtcnn() -> Any:
    """One MTCNN per process, its stage networks compiled once (they hold no state)."""
    if "mtcnn" not in _MTCNN_CACHE:
        import tensorflow as tf

        try:
            from mtcnn import MTCNN
        except ImportError as error:
            raise ImportError(
                "Face detection needs the `mtcnn` package (weights included, no download): "
                "pip install 'mtcnn>=1.0,<2'."
            ) from error
        detector = MTCNN()
        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        for stage in detector.stages:
            # MTCNN's stages call `self._model(x)` once per scale / batch of crops.
            stage._model = tf.function(stage.model, input_signature=[spec])
        _MTCNN_CACHE["mtcnn"] = detector
    return _MTCNN_CACHE["mtcnn"]


__all__ = ["Detection", "FaceDetector"]
