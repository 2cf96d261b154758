"""AU centres from 49-point landmarks: the JAA-Net rule and EAC-Net's 20 ROI centres.

Both papers place each AU's region of interest at two centres, one per half of the face
(image-left first), each a landmark (or the mean of a few) moved vertically by a multiple of a
face-size ruler measured between the inner eye corners (49-point indices 22 and 25). Positive
shifts move down (image y grows downwards).

A rule is a table (``CentrePair`` rows), applied by one function for numpy and for TF tensors:
each centre is a fixed linear combination of the landmarks plus a shift, i.e. one matrix
product, so it is batched, graph- and XLA-safe.

JAA-Net (``JAANET_AU_CENTRES``, datasets.md "AU centres for attention maps"): ``ruler`` is the
horizontal distance ``|x22 - x25|``.

EAC-Net (``EACNET_CENTRES``, Table I of the paper, in words; mapped to 49-point indices here):
``ruler`` ("scale") is the distance between the inner eye corners 22 and 25 (Euclidean: the
paper says "inner corner distance"). Ten pairs, 20 centres:

====  ============================  =============================================================
AU    Table I                       49-point centres and why
====  ============================  =============================================================
1     1/2 scale above inner brow    brow inner ends 4, 5; up 1/2.
2     1/3 scale above outer brow    outer brow 1, 8 (next to the tails 0, 9, which trackers place
                                    over the temple); up 1/3. The authors' code uses the same.
4     1/3 scale below brow center   brow middles 2, 7; down 1/3.
6     1 scale below eye bottom      lower-lid points under the outer half of each eye, 24 and 29;
                                    down 1 (the cheek under the eye).
7     Eye center                    eye centres: means of 19-24 and of 25-30 (the paper's words;
                                    the authors' code uses the upper-lid points 21, 26).
10    Upper lip center              two pairs: outer upper lip either side of the centre 32, 36,
                                    and inner upper lip either side of its centre 43, 45. The
                                    paper counts 20 centres for its 12 AUs, one pair more than
                                    Table I's nine distinct rules; the authors' code has exactly
                                    these two upper-lip pairs (and JAA-Net uses 43, 45 for AU10).
12    Lip corner                    mouth corners 31, 37 (shared by AUs 12, 14, 15).
17    1/2 scale below lip           lower lip either side of its centre 39, 41; down 1/2.
23    Lip center                    top and bottom centres of the outer lip 34, 40 (AUs 23, 24).
====  ============================  =============================================================

Reference:
    - Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
      Detection", IEEE TPAMI 2018 (Table I).
    - Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
      Alignment", ECCV 2018 (Sec. 3.3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfau.aus import BP4D_AUS
from tfau.faces.schemes import as_landmarks, convert_landmarks, get_scheme

LEFT_INNER_EYE_CORNER = 22
RIGHT_INNER_EYE_CORNER = 25


@dataclasses.dataclass(frozen=True)
class CentrePair:
    """Two AU centres (image-left, image-right) on 49-point landmarks.

    Args:
        aus: the AUs whose region this pair marks.
        left: 49-point indices averaged for the image-left centre.
        right: 49-point indices averaged for the image-right centre.
        shift: vertical shift in rulers; positive moves down.
    """

    aus: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    shift: float = 0.0


_LIP_CORNERS = CentrePair((12, 14, 15), (31,), (37,))
_LIP_CENTRES = CentrePair((23, 24, 25), (34,), (40,))
_BELOW_LOWER_LIP = CentrePair((17, 26), (39,), (41,), 1 / 2)

#: JAA-Net's centre pair for each AU it defines (datasets.md table, 49-point indices).
JAANET_AU_CENTRES: dict[int, CentrePair] = {
    1: CentrePair((1,), (4,), (5,), -1 / 2),
    2: CentrePair((2,), (1,), (8,), -1 / 3),
    4: CentrePair((4,), (2,), (7,), 1 / 3),
    6: CentrePair((6,), (24,), (29,), 1.0),
    7: CentrePair((7,), (21,), (26,)),
    9: CentrePair((9,), (15,), (17,), -1 / 2),
    10: CentrePair((10,), (43,), (45,)),
    12: _LIP_CORNERS,
    14: _LIP_CORNERS,
    15: _LIP_CORNERS,
    17: _BELOW_LOWER_LIP,
    23: _LIP_CENTRES,
    24: _LIP_CENTRES,
    25: _LIP_CENTRES,
    26: _BELOW_LOWER_LIP,
}

#: The AUs that have JAA-Net centres.
JAANET_AUS: tuple[int, ...] = tuple(sorted(JAANET_AU_CENTRES))

#: The 12 BP4D AUs of EAC-Net's Table I.
EACNET_AUS: tuple[int, ...] = BP4D_AUS

#: EAC-Net's ten centre pairs (20 centres), in the order of ``eacnet_roi_centres``.
EACNET_CENTRES: tuple[CentrePair, ...] = (
    CentrePair((1,), (4,), (5,), -1 / 2),
    CentrePair((2,), (1,), (8,), -1 / 3),
    CentrePair((4,), (2,), (7,), 1 / 3),
    CentrePair((6,), (24,), (29,), 1.0),
    CentrePair((7,), (19, 20, 21, 22, 23, 24), (25, 26, 27, 28, 29, 30)),
    CentrePair((10,), (32,), (36,)),
    CentrePair((10,), (43,), (45,)),
    CentrePair((12, 14, 15), (31,), (37,)),
    CentrePair((17,), (39,), (41,), 1 / 2),
    CentrePair((23, 24), (34,), (40,)),
)

NUM_EACNET_CENTRES = 2 * len(EACNET_CENTRES)


def _centre_tables(pairs: Sequence[CentrePair]) -> tuple[np.ndarray, np.ndarray]:
    """Averaging matrix ``(2P, 49)`` and shift vector ``(2P,)`` of a list of centre pairs."""
    weights = np.zeros((2 * len(pairs), 49), np.float64)
    shifts = np.zeros((2 * len(pairs),), np.float64)
    for row, indices in enumerate(side for pair in pairs for side in (pair.left, pair.right)):
        weights[row, list(indices)] = 1.0 / len(indices)
    for k, pair in enumerate(pairs):
        shifts[2 * k : 2 * k + 2] = pair.shift
    return weights, shifts


def _as_49_points(landmarks: Any) -> tuple[Any, Any]:
    xp, x = as_landmarks(landmarks)
    if get_scheme(None, x).num_points != 49:
        x = convert_landmarks(x, 49)
    return xp, x


def _ruler(xp: Any, x: Any, kind: str) -> Any:
    inner_gap = x[..., RIGHT_INNER_EYE_CORNER, :] - x[..., LEFT_INNER_EYE_CORNER, :]
    if kind == "horizontal":
        return xp.abs(inner_gap[..., 0])
    return xp.sqrt(xp.sum(xp.square(inner_gap), axis=-1))


def _apply_centre_rule(landmarks: Any, pairs: Sequence[CentrePair], kind: str) -> Any:
    xp, x = _as_49_points(landmarks)
    dtype = x.dtype if xp is np else x.dtype.as_numpy_dtype
    weights, shifts = _centre_tables(pairs)
    centres = xp.matmul(weights.astype(dtype), x)
    offsets = np.stack([np.zeros_like(shifts), shifts], axis=-1).astype(dtype)
    return centres + offsets * _ruler(xp, x, kind)[..., None, None]


def _check_aus(aus: Sequence[int], known: Sequence[int], rule: str) -> tuple[int, ...]:
    aus = tuple(int(au) for au in aus)
    if not aus:
        raise ValueError(f"`aus` must list at least one AU. Received: aus={aus}")
    unknown = [au for au in aus if au not in known]
    if unknown:
        raise ValueError(
            f"The {rule} rule defines centres for AUs {', '.join(map(str, known))}. "
            f"Received: aus={aus} (no centres for {', '.join(map(str, unknown))})"
        )
    return aus


def ruler(landmarks: Any, kind: str = "horizontal") -> Any:
    """The face-size ruler of both rules: the gap between the inner eye corners 22 and 25.

    Args:
        landmarks: ``(..., 49 or 66 or 68, 2)`` numpy array or tensor.
        kind: ``"horizontal"`` (``|x22 - x25|``, JAA-Net) or ``"euclidean"`` (EAC-Net).

    Returns:
        ``(...)`` rulers, same array type as the input.
    """
    if kind not in ("horizontal", "euclidean"):
        raise ValueError(f"`kind` must be 'horizontal' or 'euclidean'. Received: kind={kind!r}")
    xp, x = _as_49_points(landmarks)
    return _ruler(xp, x, kind)


def jaanet_au_centres(landmarks: Any, aus: Sequence[int]) -> Any:
    """JAA-Net's two centres per AU, in the landmarks' pixel coordinates.

    Args:
        landmarks: ``(..., 49, 2)`` numpy array or tensor (66 or 68 points are converted).
        aus: AUs among ``JAANET_AUS`` (1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17, 23, 24, 25, 26).

    Returns:
        ``(..., 2 * len(aus), 2)``: centres ``2k`` (image-left) and ``2k + 1`` (image-right)
        belong to ``aus[k]``. Same array type as the input.

    Example:
        >>> jaanet_au_centres(np.zeros((8, 49, 2)), aus=(1, 2, 4)).shape
        (8, 6, 2)

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018 (Sec. 3.3, rule of EAC-Net with the authors' 49-point indices).
    """
    aus = _check_aus(aus, JAANET_AUS, "JAA-Net")
    return _apply_centre_rule(landmarks, [JAANET_AU_CENTRES[au] for au in aus], "horizontal")


def eacnet_roi_centres(landmarks: Any) -> Any:
    """EAC-Net's 20 AU centres (10 pairs, ``EACNET_CENTRES``), in the landmarks' pixels.

    These are the attention-map centres of E-Net and the crop centres of C-Net.

    Args:
        landmarks: ``(..., 49, 2)`` numpy array or tensor (66 or 68 points are converted).

    Returns:
        ``(..., 20, 2)``: centres ``2k`` (image-left) and ``2k + 1`` (image-right) are pair
        ``EACNET_CENTRES[k]``. Same array type as the input.

    Example:
        >>> eacnet_roi_centres(np.zeros((8, 49, 2))).shape
        (8, 20, 2)

    Reference:
        Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
        Detection", IEEE TPAMI 2018 (Sec. III-B, Table I).
    """
    return _apply_centre_rule(landmarks, EACNET_CENTRES, "euclidean")


def eacnet_au_centre_mask(aus: Sequence[int] = EACNET_AUS) -> np.ndarray:
    """Which of the 20 EAC-Net centres mark each AU: a ``(len(aus), 20)`` boolean table.

    Args:
        aus: AUs among ``EACNET_AUS``.

    Returns:
        ``mask[k, c]`` is True when centre ``c`` of ``eacnet_roi_centres`` belongs to ``aus[k]``.
    """
    aus = _check_aus(aus, EACNET_AUS, "EAC-Net")
    mask = np.zeros((len(aus), NUM_EACNET_CENTRES), bool)
    for k, au in enumerate(aus):
        for p, pair in enumerate(EACNET_CENTRES):
            if au in pair.aus:
                mask[k, 2 * p : 2 * p + 2] = True
    return mask
