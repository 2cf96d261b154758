"""Facial landmark schemes (49, 66 and 68 points), conversions, flips and eye geometry.

Landmarks are ``(..., num_points, 2)`` arrays of ``(x, y)``, 0-based pixel coordinates of the
image they belong to. "Left" and "right" always mean the image's left and right (a subject's
right eye is on the image's left).

Every function here accepts either a numpy array (and returns numpy) or a ``tf.Tensor`` (and
returns a ``tf.Tensor``, usable inside ``tf.function``, ``tf.data`` and XLA). The rule is written
once, against the numpy API: numpy for numpy inputs, ``tf.experimental.numpy`` for tensors.

Schemes:

- ``LANDMARKS_68``: iBUG 300-W. 0-16 jaw, 17-21 left brow, 22-26 right brow, 27-30 nose bridge,
  31-35 nose base, 36-41 left eye, 42-47 right eye, 48-59 outer lip, 60-67 inner lip.
- ``LANDMARKS_66``: DISFA's AAM = iBUG-68 without the two inner mouth corners (60 and 64).
- ``LANDMARKS_49``: BP4D's IntraFace/SDM tracker = points 17-65 of the 66 (no jaw):
  ``49-point index i = 66-point index i + 17``.

Reference:
    - Sagonas et al., "300 Faces in-the-Wild Challenge", ICCV-W 2013 (iBUG 68 points).
    - Xiong and De la Torre, "Supervised Descent Method", CVPR 2013 (the 49-point tracker).
    - Mavadati et al., "DISFA", IEEE TAC 2013 (66 AAM points).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow.experimental.numpy as tnp


@dataclasses.dataclass(frozen=True, eq=False)
class LandmarkScheme:
    """A landmark scheme: its regions, named key points and horizontal-flip permutation.

    Args:
        name: short name (``"68"``, ``"66"``, ``"49"``).
        num_points: number of landmarks.
        regions: ``(region_name, indices)`` pairs, 0-based, each region ordered as documented.
        keypoints: ``(point_name, index)`` pairs for the points geometry rules use.
        flip_permutation: ``flip_permutation[i]`` is the index whose mirrored position point
            ``i`` takes after a horizontal flip (``flipped = mirrored[..., perm, :]``).
        description: where the scheme comes from.

    Example:
        >>> LANDMARKS_49.region("left_eye")
        (19, 20, 21, 22, 23, 24)
        >>> LANDMARKS_49.point("nose_tip")
        13
    """

    name: str
    num_points: int
    regions: tuple[tuple[str, tuple[int, ...]], ...]
    keypoints: tuple[tuple[str, int], ...]
    flip_permutation: tuple[int, ...]
    description: str

    @property
    def region_names(self) -> tuple[str, ...]:
        """Names of the regions, in index order."""
        return tuple(name for name, _ in self.regions)

    def region(self, name: str) -> tuple[int, ...]:
        """Returns the 0-based indices of region ``name``."""
        for region_name, indices in self.regions:
            if region_name == name:
                return indices
        raise KeyError(
            f"The {self.name}-point scheme has no region {name!r}. "
            f"Expected one of: {', '.join(self.region_names)}."
        )

    def point(self, name: str) -> int:
        """Returns the 0-based index of key point ``name``."""
        for point_name, index in self.keypoints:
            if point_name == name:
                return index
        names = ", ".join(point_name for point_name, _ in self.keypoints)
        raise KeyError(
            f"The {self.name}-point scheme has no key point {name!r}. Expected one of: {names}."
        )


def _span(start: int, stop: int) -> tuple[int, ...]:
    return tuple(range(start, stop + 1))


def _permutation_from_pairs(num_points: int, pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    permutation = list(range(num_points))
    for a, b in pairs:
        permutation[a], permutation[b] = b, a
    return tuple(permutation)


def _restrict_permutation(permutation: Sequence[int], kept: Sequence[int]) -> tuple[int, ...]:
    """The flip permutation of a subset scheme whose point i is point ``kept[i]`` of the parent."""
    position = {parent: i for i, parent in enumerate(kept)}
    return tuple(position[permutation[parent]] for parent in kept)


# Mirror pairs of the iBUG-68 scheme; points on the vertical midline map to themselves.
_MIRROR_PAIRS_68 = (
    *((i, 16 - i) for i in range(8)),  # jaw
    *((17 + i, 26 - i) for i in range(5)),  # brows, outer to inner / inner to outer
    (31, 35),
    (32, 34),  # nose base
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),  # eyes
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),  # outer lip
    (60, 64),
    (61, 63),
    (65, 67),  # inner lip
)

#: Index in the 68-point scheme of each 66-point landmark (drops inner mouth corners 60, 64).
INDEX_68_TO_66: tuple[int, ...] = tuple(i for i in range(68) if i not in (60, 64))
#: Index in the 66-point scheme of each 49-point landmark (drops the 17 jaw points).
INDEX_66_TO_49: tuple[int, ...] = _span(17, 65)
#: Index in the 68-point scheme of each 49-point landmark.
INDEX_68_TO_49: tuple[int, ...] = tuple(INDEX_68_TO_66[i] for i in INDEX_66_TO_49)

_FLIP_68 = _permutation_from_pairs(68, _MIRROR_PAIRS_68)

LANDMARKS_68 = LandmarkScheme(
    name="68",
    num_points=68,
    regions=(
        ("jaw", _span(0, 16)),
        ("left_brow", _span(17, 21)),
        ("right_brow", _span(22, 26)),
        ("nose_bridge", _span(27, 30)),
        ("nose_base", _span(31, 35)),
        ("left_eye", _span(36, 41)),
        ("right_eye", _span(42, 47)),
        ("outer_lip", _span(48, 59)),
        ("inner_lip", _span(60, 67)),
    ),
    keypoints=(
        ("left_eye_outer_corner", 36),
        ("left_eye_inner_corner", 39),
        ("right_eye_inner_corner", 42),
        ("right_eye_outer_corner", 45),
        ("nose_tip", 30),
        ("left_mouth_corner", 48),
        ("right_mouth_corner", 54),
    ),
    flip_permutation=_FLIP_68,
    description="iBUG 300-W 68 points (dlib, face_alignment).",
)


def _subset_scheme(
    name: str, kept: tuple[int, ...], description: str, keep_regions: Sequence[str]
) -> LandmarkScheme:
    position = {parent: i for i, parent in enumerate(kept)}
    regions = tuple(
        (region, tuple(position[p] for p in LANDMARKS_68.region(region) if p in position))
        for region in keep_regions
    )
    keypoints = tuple((point, position[i]) for point, i in LANDMARKS_68.keypoints)
    return LandmarkScheme(
        name=name,
        num_points=len(kept),
        regions=regions,
        keypoints=keypoints,
        flip_permutation=_restrict_permutation(_FLIP_68, kept),
        description=description,
    )


LANDMARKS_66 = _subset_scheme(
    "66",
    INDEX_68_TO_66,
    "DISFA AAM 66 points: iBUG-68 without the inner mouth corners 60 and 64.",
    LANDMARKS_68.region_names,
)

_BASE_49 = _subset_scheme(
    "49",
    INDEX_68_TO_49,
    "BP4D IntraFace/SDM 49 points: 66-point landmarks 17-65 (no jaw).",
    [name for name in LANDMARKS_68.region_names if name not in ("jaw", "inner_lip")],
)
# The 49-point scheme names its inner lip halves separately (43-45 upper, 46-48 lower).
LANDMARKS_49 = dataclasses.replace(
    _BASE_49,
    regions=(
        *_BASE_49.regions,
        ("inner_upper_lip", _span(43, 45)),
        ("inner_lower_lip", _span(46, 48)),
    ),
)

#: Every scheme by number of points.
SCHEMES: dict[int, LandmarkScheme] = {
    s.num_points: s for s in (LANDMARKS_49, LANDMARKS_66, LANDMARKS_68)
}

_CONVERSIONS: dict[tuple[int, int], tuple[int, ...]] = {
    (68, 66): INDEX_68_TO_66,
    (66, 49): INDEX_66_TO_49,
    (68, 49): INDEX_68_TO_49,
}


def _namespace(x: Any) -> Any:
    """numpy for array-likes, ``tf.experimental.numpy`` for tensors (graph and XLA safe)."""
    return tnp if isinstance(x, (tf.Tensor, tf.Variable)) else np


def as_landmarks(landmarks: Any) -> tuple[Any, Any]:
    """Checks ``landmarks`` is ``(..., num_points, 2)`` and returns ``(xp, float array)``.

    ``xp`` is numpy for numpy/array-like input and ``tf.experimental.numpy`` for tensors.
    Integer input is converted to float32; float input keeps its dtype.
    """
    xp = _namespace(landmarks)
    x = xp.asarray(landmarks)
    shape = tuple(x.shape)
    if len(shape) < 2 or shape[-1] != 2:
        raise ValueError(
            "Landmarks must have shape (..., num_points, 2) of (x, y) pixel coordinates. "
            f"Received: shape={shape}"
        )
    dtype = x.dtype if xp is np else x.dtype.as_numpy_dtype
    if not np.issubdtype(dtype, np.floating):
        x = xp.asarray(x, dtype=np.float32)
    return xp, x


def get_scheme(scheme: LandmarkScheme | int | str | None, landmarks: Any = None) -> LandmarkScheme:
    """Resolves a scheme given as an object, a number of points, or ``None`` (from the shape).

    Args:
        scheme: a ``LandmarkScheme``, ``49``/``66``/``68`` (int or str), or ``None`` to infer it
            from ``landmarks.shape[-2]``.
        landmarks: the landmarks whose scheme is inferred when ``scheme`` is ``None``.

    Returns:
        The ``LandmarkScheme``.
    """
    if isinstance(scheme, LandmarkScheme):
        if landmarks is not None and landmarks.shape[-2] not in (None, scheme.num_points):
            raise ValueError(
                f"Landmarks have {landmarks.shape[-2]} points but the {scheme.name}-point "
                f"scheme was requested. Received: shape={tuple(landmarks.shape)}"
            )
        return scheme
    if scheme is None:
        if landmarks is None:
            raise ValueError("Pass `scheme` or landmarks to infer it from.")
        scheme = landmarks.shape[-2]
    try:
        return SCHEMES[int(scheme)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"Unknown landmark scheme. Expected 49, 66 or 68 points. Received: {scheme!r}"
        ) from None


def convert_landmarks(landmarks: Any, target: LandmarkScheme | int) -> Any:
    """Converts landmarks to a smaller scheme: 68 -> 66, 66 -> 49, 68 -> 49 (or identity).

    Args:
        landmarks: ``(..., 68 or 66 or 49, 2)`` numpy array or tensor.
        target: the scheme (or its number of points) to convert to.

    Returns:
        ``(..., target.num_points, 2)``, same array type as the input.

    Example:
        >>> convert_landmarks(np.zeros((68, 2)), 49).shape
        (49, 2)
    """
    xp, x = as_landmarks(landmarks)
    source = get_scheme(None, x)
    target = get_scheme(target)
    if source.num_points == target.num_points:
        return x
    indices = _CONVERSIONS.get((source.num_points, target.num_points))
    if indices is None:
        raise ValueError(
            f"Cannot convert {source.num_points}-point landmarks to {target.num_points} points: "
            "only 68 -> 66, 66 -> 49 and 68 -> 49 drop points; the others would invent them."
        )
    return xp.take(x, np.asarray(indices), axis=-2)


def flip_landmarks(landmarks: Any, width: Any, scheme: LandmarkScheme | int | None = None) -> Any:
    """Mirrors landmarks for a horizontally flipped image: ``x' = width - 1 - x``, then permutes.

    After the permutation, index i still names the same anatomical point (e.g. the image-left
    eye's outer corner), so flipped landmarks stay in the scheme's order.

    Args:
        landmarks: ``(..., num_points, 2)`` numpy array or tensor.
        width: width in pixels of the image the landmarks belong to (number or scalar tensor).
        scheme: the scheme; inferred from the number of points when ``None``.

    Returns:
        Flipped landmarks, same shape and array type.

    Example:
        >>> flip_landmarks(np.zeros((49, 2)), width=176)[19]  # was the right eye's outer corner
        array([175.,   0.])
    """
    xp, x = as_landmarks(landmarks)
    scheme = get_scheme(scheme, x)
    width = xp.asarray(width, dtype=x.dtype)
    mirrored = xp.stack([width - 1 - x[..., 0], x[..., 1]], axis=-1)
    return xp.take(mirrored, np.asarray(scheme.flip_permutation), axis=-2)


def eye_centres(landmarks: Any, scheme: LandmarkScheme | int | None = None) -> tuple[Any, Any]:
    """Returns the left and right eye centres: the means of each eye's contour points.

    Args:
        landmarks: ``(..., num_points, 2)`` numpy array or tensor.
        scheme: the scheme; inferred from the number of points when ``None``.

    Returns:
        ``(left, right)``, each ``(..., 2)`` (49 points: means of 19-24 and of 25-30).
    """
    xp, x = as_landmarks(landmarks)
    scheme = get_scheme(scheme, x)
    left = xp.mean(xp.take(x, np.asarray(scheme.region("left_eye")), axis=-2), axis=-2)
    right = xp.mean(xp.take(x, np.asarray(scheme.region("right_eye")), axis=-2), axis=-2)
    return left, right


def inter_ocular_distance(landmarks: Any, scheme: LandmarkScheme | int | None = None) -> Any:
    """Euclidean distance between the two eye centres (the normaliser of landmark errors).

    Args:
        landmarks: ``(..., num_points, 2)`` numpy array or tensor.
        scheme: the scheme; inferred from the number of points when ``None``.

    Returns:
        ``(...)`` distances, same array type as the input.

    Example:
        >>> inter_ocular_distance(np.zeros((8, 49, 2))).shape
        (8,)
    """
    xp, _ = as_landmarks(landmarks)
    left, right = eye_centres(landmarks, scheme)
    return xp.sqrt(xp.sum(xp.square(right - left), axis=-1))
