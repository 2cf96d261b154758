"""Face geometry: landmark schemes, AU centres, landmark attention maps and face alignment.

Landmarks are ``(..., num_points, 2)`` float arrays of ``(x, y)`` 0-based pixel coordinates;
"left"/"right" mean the image's left/right. Functions marked (np/tf) take a numpy array and
return numpy, or take a ``tf.Tensor`` and return a tensor (graph-, ``tf.data``- and XLA-safe).

Landmark schemes (``tfau.faces.schemes``):
    ``LandmarkScheme``: regions, named key points and flip permutation of a scheme.
    ``LANDMARKS_49``, ``LANDMARKS_66``, ``LANDMARKS_68``, ``SCHEMES`` (by number of points).
    ``INDEX_68_TO_66``, ``INDEX_66_TO_49``, ``INDEX_68_TO_49``: conversion index tables.
    ``get_scheme(scheme, landmarks=None)``: resolve 49/66/68 or infer from the shape.
    ``convert_landmarks(landmarks, target)``: 68 -> 66 -> 49 (np/tf).
    ``flip_landmarks(landmarks, width, scheme=None)``: horizontal flip, permuted (np/tf).
    ``eye_centres(landmarks, scheme=None)``: ``(left, right)`` eye centres (np/tf).
    ``inter_ocular_distance(landmarks, scheme=None)``: distance between eye centres (np/tf).

tfau.faces is a leaf package: it imports nothing else from tfau.
"""

from tfau.faces.schemes import (
    INDEX_66_TO_49,
    INDEX_68_TO_49,
    INDEX_68_TO_66,
    LANDMARKS_49,
    LANDMARKS_66,
    LANDMARKS_68,
    SCHEMES,
    LandmarkScheme,
    convert_landmarks,
    eye_centres,
    flip_landmarks,
    get_scheme,
    inter_ocular_distance,
)

__all__ = [
    "INDEX_66_TO_49",
    "INDEX_68_TO_49",
    "INDEX_68_TO_66",
    "LANDMARKS_49",
    "LANDMARKS_66",
    "LANDMARKS_68",
    "SCHEMES",
    "LandmarkScheme",
    "convert_landmarks",
    "eye_centres",
    "flip_landmarks",
    "get_scheme",
    "inter_ocular_distance",
]
