"""JAA-Net's similarity alignment of a face, from 49/66/68 landmarks or from 5 key points.

The transform rotates the frame so that the eye centres are level, then scales and translates
it so that a square box around the face fills the ``output_size`` output: the box is centred on
the bounding box of five key points (the two eye centres, the nose tip and the two mouth
corners, taken after the rotation) and its side is ``box_enlarge`` (2.9) times the larger side
of that bounding box. Pixels from outside the frame are grey (128).

Five key points are what face detectors such as MTCNN return, so inference aligns from those;
dataset builders align from the tracked landmarks, which reduce to the same five points
(``keypoints_from_landmarks``), so both share one core (``similarity_from_keypoints``).

Everything here is numpy / OpenCV, for dataset builders and inference pre-processing.

Reference:
    Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
    Alignment", ECCV 2018 (Sec. 4.1, implementation details).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from tfau.faces.schemes import LandmarkScheme, as_landmarks, eye_centres, get_scheme

#: Order of the five key points.
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth_corner", "right_mouth_corner")

DEFAULT_OUTPUT_SIZE = 200
DEFAULT_BOX_ENLARGE = 2.9
DEFAULT_BORDER_VALUE = 128
#: Unaligned square face box (EAC-Net's and AUNets' crops, the ``unaligned<size>`` datasets):
#: side over the larger side of the landmarks' bounding box, and downward shift of its centre
#: over the box height (the 49 points stop at the lower lip; a detector's box reaches the chin).
SQUARE_BOX_SCALE = 1.5
SQUARE_BOX_SHIFT = 0.1


@dataclasses.dataclass(frozen=True)
class AlignedFace:
    """Result of an alignment.

    Attributes:
        image: the ``output_size x output_size`` aligned image (same dtype and channels).
        matrix: the ``(2, 3)`` float64 similarity matrix mapping frame pixels to aligned pixels
            (``cv2.warpAffine`` convention).
        landmarks: the landmarks mapped with ``matrix`` (``None`` when aligning from key points
            without landmarks).
        keypoints: the five key points mapped with ``matrix``, ``(5, 2)``.
        inter_ocular_distance: distance between the eye centres in the aligned image.
    """

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray | None
    keypoints: np.ndarray
    inter_ocular_distance: float


def keypoints_from_landmarks(
    landmarks: Any, scheme: LandmarkScheme | int | None = None
) -> np.ndarray:
    """The five alignment key points of a face: eye centres, nose tip, mouth corners.

    Args:
        landmarks: ``(num_points, 2)`` landmarks of one face (49, 66 or 68 points).
        scheme: the scheme; inferred from the number of points when ``None``.

    Returns:
        ``(5, 2)`` float64 array in ``KEYPOINT_NAMES`` order (49 points: means of 19-24 and
        25-30, point 13, points 31 and 37).
    """
    _, x = as_landmarks(np.asarray(landmarks, np.float64))
    if x.ndim != 2:
        raise ValueError(
            f"Expected the landmarks of one face, shape (num_points, 2). Received: shape={x.shape}"
        )
    scheme = get_scheme(scheme, x)
    left_eye, right_eye = eye_centres(x, scheme)
    points = [
        scheme.point(name) for name in ("nose_tip", "left_mouth_corner", "right_mouth_corner")
    ]
    return np.stack([left_eye, right_eye, *x[points]])


def similarity_from_keypoints(
    keypoints: Any,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
) -> np.ndarray:
    """JAA-Net's alignment transform from five key points.

    Args:
        keypoints: ``(5, 2)`` (x, y) pixels: image-left eye centre, image-right eye centre,
            nose tip, image-left mouth corner, image-right mouth corner.
        output_size: side of the aligned square image. Defaults to 200.
        box_enlarge: side of the face box over the larger side of the key points' bounding box
            (after levelling the eyes). Defaults to 2.9.

    Returns:
        ``(2, 3)`` float64 matrix mapping frame pixels to aligned pixels.

    Example:
        >>> matrix = similarity_from_keypoints(detection_keypoints)  # 5 x 2
        >>> aligned = cv2.warpAffine(frame, matrix, (200, 200))
    """
    points = np.asarray(keypoints, np.float64)
    if points.shape != (5, 2):
        raise ValueError(
            "Expected 5 key points (eyes, nose tip, mouth corners) of shape (5, 2). "
            f"Received: shape={points.shape}"
        )
    if not np.isfinite(points).all():
        raise ValueError(f"Key points must be finite. Received: {points.tolist()}")
    if output_size < 2:
        raise ValueError(f"`output_size` must be >= 2. Received: output_size={output_size}")
    if box_enlarge <= 0:
        raise ValueError(f"`box_enlarge` must be > 0. Received: box_enlarge={box_enlarge}")
    eye_vector = points[1] - points[0]
    eye_distance = float(np.hypot(*eye_vector))
    if eye_distance == 0:
        raise ValueError(f"The two eye centres coincide. Received: {points[:2].tolist()}")
    cos, sin = eye_vector / eye_distance
    # Rotation about the origin that takes the eye vector to the +x axis.
    rotation = np.array([[cos, sin], [-sin, cos]])
    rotated = points @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    half_side = 0.5 * box_enlarge * float((high - low).max())
    if half_side == 0:
        raise ValueError(f"The key points span no area. Received: {points.tolist()}")
    scale = (output_size - 1) / 2.0 / half_side
    centre = (low + high) / 2.0
    translation = (output_size - 1) / 2.0 - scale * centre
    return np.concatenate([scale * rotation, translation[:, None]], axis=1)


def square_box_matrix(
    landmarks: Any,
    output_size: int,
    box_scale: float = SQUARE_BOX_SCALE,
    box_shift: float = SQUARE_BOX_SHIFT,
) -> np.ndarray:
    """The unaligned face crop: a square box around the landmarks, resized, not rotated.

    EAC-Net and AUNets take a detector's face box resized to 224 px; the ``unaligned<size>``
    dataset configs cut this box, and inference can cut the same one.

    Args:
        landmarks: ``(N, 2)`` landmarks of one face in frame pixels (the 49 points).
        output_size: side of the output square.
        box_scale: box side over the larger side of the landmarks' bounding box.
        box_shift: downward shift of the box centre over the bounding box height.

    Returns:
        ``(2, 3)`` float64 matrix mapping frame pixels to the crop's pixels.
    """
    points = np.asarray(landmarks, np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = high - low
    centre_x = (low[0] + high[0]) / 2.0
    centre_y = (low[1] + high[1]) / 2.0 + box_shift * height
    side = max(box_scale * max(width, height), 1.0)
    scale = output_size / side
    return np.array(
        [
            [scale, 0.0, output_size / 2.0 - scale * centre_x],
            [0.0, scale, output_size / 2.0 - scale * centre_y],
        ],
        dtype=np.float64,
    )


def transform_points(points: Any, matrix: Any) -> np.ndarray:
    """Applies a ``(2, 3)`` affine matrix to ``(..., N, 2)`` points (float64 result)."""
    points = np.asarray(points, np.float64)
    matrix = np.asarray(matrix, np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"Expected a (2, 3) affine matrix. Received: shape={matrix.shape}")
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_transform(matrix: Any) -> np.ndarray:
    """The ``(2, 3)`` inverse of an affine matrix (maps aligned pixels back to the frame)."""
    matrix = np.asarray(matrix, np.float64)
    if matrix.shape != (2, 3):
        raise ValueError(f"Expected a (2, 3) affine matrix. Received: shape={matrix.shape}")
    return cv2.invertAffineTransform(matrix)


def _check_image(image: Any) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or min(image.shape[:2]) == 0:
        raise ValueError(
            f"Expected an image of shape (height, width) or (height, width, channels). "
            f"Received: shape={image.shape}"
        )
    return image


def warp_face(
    image: np.ndarray,
    matrix: np.ndarray,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    border_value: float = DEFAULT_BORDER_VALUE,
) -> np.ndarray:
    """Cuts a face out of ``image`` with an alignment ``matrix`` (bilinear, grey border).

    What `align_face` does once it has its matrix; also cuts the previous frame out with the
    current face's matrix (the optical-flow networks' second input).

    Args:
        image: ``(H, W, 3)`` uint8 frame.
        matrix: ``(2, 3)`` frame -> face pixels (e.g. ``AlignedFace.matrix``).
        output_size: side of the face. Defaults to 200.
        border_value: fill for pixels outside the frame. Defaults to 128 (grey).

    Returns:
        uint8 ``(output_size, output_size, 3)``.
    """
    return cv2.warpAffine(
        image,
        matrix,
        (output_size, output_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(border_value,) * 4,
    )


def align_face_from_keypoints(
    image: Any,
    keypoints: Any,
    landmarks: Any = None,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    border_value: float = DEFAULT_BORDER_VALUE,
) -> AlignedFace:
    """Aligns a face from five key points (e.g. a face detector's), JAA-Net style.

    Args:
        image: the whole frame, ``(H, W)`` or ``(H, W, C)``, any OpenCV dtype.
        keypoints: ``(5, 2)`` pixels in ``KEYPOINT_NAMES`` order.
        landmarks: optional ``(N, 2)`` landmarks to map with the same matrix.
        output_size: side of the aligned image. Defaults to 200.
        box_enlarge: face box over the key points' extent. Defaults to 2.9.
        border_value: fill for pixels outside the frame. Defaults to 128 (grey).

    Returns:
        An ``AlignedFace``.
    """
    image = _check_image(image)
    matrix = similarity_from_keypoints(keypoints, output_size, box_enlarge)
    aligned = warp_face(image, matrix, output_size, border_value)
    mapped_keypoints = transform_points(keypoints, matrix)
    return AlignedFace(
        image=aligned,
        matrix=matrix,
        landmarks=None if landmarks is None else transform_points(landmarks, matrix),
        keypoints=mapped_keypoints,
        inter_ocular_distance=float(np.hypot(*(mapped_keypoints[1] - mapped_keypoints[0]))),
    )


def align_face(
    image: Any,
    landmarks: Any,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
    border_value: float = DEFAULT_BORDER_VALUE,
    scheme: LandmarkScheme | int | None = None,
) -> AlignedFace:
    """Aligns a face from its landmarks, JAA-Net style (200 x 200, box 2.9x, grey border).

    Args:
        image: the whole frame, ``(H, W)`` or ``(H, W, C)``, any OpenCV dtype.
        landmarks: ``(N, 2)`` landmarks of the face in frame pixels (49, 66 or 68 points).
        output_size: side of the aligned image. Defaults to 200.
        box_enlarge: face box over the key points' extent. Defaults to 2.9.
        border_value: fill for pixels outside the frame. Defaults to 128 (grey).
        scheme: the landmark scheme; inferred from the number of points when ``None``.

    Returns:
        An ``AlignedFace`` whose ``landmarks`` are the input landmarks in aligned pixels and
        whose ``inter_ocular_distance`` is the eye-centre distance there (kept by JAA-Net to
        normalise its alignment loss).

    Example:
        >>> face = align_face(frame, landmarks_49)
        >>> face.image.shape, face.landmarks.shape
        ((200, 200, 3), (49, 2))
    """
    keypoints = keypoints_from_landmarks(landmarks, scheme)
    return align_face_from_keypoints(
        image, keypoints, np.asarray(landmarks), output_size, box_enlarge, border_value
    )
