"""Landmark attention maps of EAC-Net and JAA-Net, computed in the TensorFlow graph.

Both rules paint a small square window around each AU centre with a weight that decays
linearly with the Manhattan distance to the centre, and keep the maximum where windows
overlap. They are vectorised (one broadcast over centres x rows x columns, no Python loop over
pixels or points), batched, XLA-compatible, and run inside a SavedModel.

Grid convention: landmarks are pixel indices of an ``image_size`` image, pixel ``i`` spanning
``[i - 0.5, i + 0.5)``; map pixel ``j`` spans image coordinates
``[j * W / M - 0.5, (j + 1) * W / M - 0.5)``, so a centre ``x`` falls on map pixel
``floor((x + 0.5) * M / W)`` (the half-pixel-centre convention of ``tf.image.resize``, and the
cell ``tfau.layers.ROICrop`` crops; ``centre_rounding="half_pixel"``). Each centre is snapped
to that pixel, so the map equals 1 exactly there. JAA-Net's released code rounds ``x * M / W``
instead (Python's ``round``, half to even) and clamps each window's first and last row and
column into the map (``centre_rounding="round"``): on real landmark sets about a third of the
centre coordinates land one map pixel (3.4 input pixels at 176 / 52) up or left of the
half-pixel rule. The paper states neither; ``"round"`` reproduces the authors' trained models.

The maps are constants with respect to the landmarks (``tf.stop_gradient``): JAA-Net feeds its
predicted landmarks in without back-propagating through the map, as the authors' code does.

Reference:
    - Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
      Detection", IEEE TPAMI 2018 (Sec. III-B, eq. 1).
    - Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
      Alignment", ECCV 2018 (Sec. 3.3, eq. 3; Table 3 for the uniform variant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau.faces.au_centres import (
    EACNET_CENTRES,
    eacnet_au_centre_mask,
    eacnet_roi_centres,
    jaanet_au_centres,
)

#: EAC-Net's map: 100 x 100 grid, 11 x 11 windows (5 pixels each side), w = 1 - 0.095 d.
EACNET_MAP_SIZE = 100
EACNET_HALF_SIZE = 5
EACNET_SLOPE = 0.095

#: JAA-Net's eq. 3 coefficients.
JAANET_ZETA = 0.14
JAANET_XI = 0.56

#: How a centre is placed on the map grid (see the module docstring).
CENTRE_ROUNDINGS: tuple[str, ...] = ("half_pixel", "round")


def image_height_width(image_size: int | Sequence[int]) -> tuple[int, int]:
    """Normalises ``image_size`` (``int`` for square, or ``(height, width)``) to a pair."""
    if isinstance(image_size, (int, np.integer)):
        size = (int(image_size), int(image_size))
    else:
        size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(
            "`image_size` must be a positive integer or a (height, width) pair. "
            f"Received: image_size={image_size}"
        )
    return size


def jaanet_half_size(map_size: int, zeta: float = JAANET_ZETA) -> int:
    """JAA-Net's window half-size ``round((map_size - 1) / 2 * zeta)`` (4 for 52 and 0.14)."""
    return round((map_size - 1) / 2 * zeta)


def jaanet_map_size(image_size: int) -> int:
    """JAA-Net builds its initial maps at ``l / 4 + 8`` (52 for 176): they lose 8 pixels in the
    refinement's four unpadded 3 x 3 convolutions and end at the ``l / 4`` feature size."""
    return image_size // 4 + 8


def _as_batch(landmarks: Any) -> tuple[tf.Tensor, bool]:
    """``(B, N, 2)`` or one face ``(N, 2)`` -> float ``(B, N, 2)`` and whether it was one face."""
    landmarks = tf.convert_to_tensor(landmarks)
    rank = landmarks.shape.rank
    if rank not in (2, 3) or landmarks.shape[-1] != 2:
        raise ValueError(
            "Attention maps need landmarks of shape (batch, num_points, 2) or (num_points, 2). "
            f"Received: shape={tuple(landmarks.shape) if rank is not None else None}"
        )
    if not landmarks.dtype.is_floating:
        landmarks = tf.cast(landmarks, tf.float32)
    return (landmarks[None], True) if rank == 2 else (landmarks, False)


def _per_centre_maps(
    centres: tf.Tensor,
    image_size: int | Sequence[int],
    map_size: int,
    half_size: int,
    slope: float,
    centre_rounding: str = "half_pixel",
) -> tf.Tensor:
    """``(B, C, 2)`` image-pixel centres -> ``(B, C, map_size, map_size)`` window maps."""
    height, width = image_height_width(image_size)
    centres = tf.stop_gradient(tf.cast(centres, tf.float32))
    scale = tf.constant([map_size / width, map_size / height], tf.float32)
    coords = tf.range(map_size, dtype=tf.float32)
    if centre_rounding == "half_pixel":
        grid_centres = tf.floor((centres + 0.5) * scale)
        low, high = grid_centres - half_size, grid_centres + half_size
    else:
        # tf.round rounds half to even, as Python's round; the window's ends are clamped into
        # the map, so a centre far outside still paints the border row or column.
        grid_centres = tf.round(centres * scale)
        low = tf.clip_by_value(grid_centres - half_size, 0.0, map_size - 1.0)
        high = tf.clip_by_value(grid_centres + half_size, 0.0, map_size - 1.0)
    dx = tf.abs(coords - grid_centres[..., 0:1])[..., None, :]  # (B, C, 1, W)
    dy = tf.abs(coords - grid_centres[..., 1:2])[..., :, None]  # (B, C, H, 1)
    inside_x = tf.logical_and(coords >= low[..., 0:1], coords <= high[..., 0:1])[..., None, :]
    inside_y = tf.logical_and(coords >= low[..., 1:2], coords <= high[..., 1:2])[..., :, None]
    weight = tf.maximum(1.0 - slope * (dx + dy), 0.0)
    return tf.where(tf.logical_and(inside_x, inside_y), weight, 0.0)


def _check_centre_rounding(centre_rounding: str) -> None:
    if centre_rounding not in CENTRE_ROUNDINGS:
        raise ValueError(
            f"`centre_rounding` must be one of {CENTRE_ROUNDINGS}. "
            f"Received: centre_rounding={centre_rounding!r}"
        )


def _validate_map_args(map_size: int, half_size: int, slope: float) -> None:
    if not isinstance(map_size, (int, np.integer)) or map_size <= 0:
        raise ValueError(f"`map_size` must be a positive integer. Received: map_size={map_size}")
    if half_size < 0:
        raise ValueError(f"`half_size` must be >= 0. Received: half_size={half_size}")
    if slope < 0:
        raise ValueError(f"The weight decay must be >= 0. Received: {slope}")


def jaanet_attention_maps(
    landmarks: Any,
    aus: Sequence[int],
    image_size: int | Sequence[int] = 176,
    map_size: int | None = None,
    zeta: float = JAANET_ZETA,
    xi: float = JAANET_XI,
    uniform: bool = False,
    centre_rounding: str = "half_pixel",
) -> tf.Tensor:
    """JAA-Net's initial attention map of each AU (eq. 3), in the TF graph.

    For AU i and map pixel k inside the ``(2h + 1) x (2h + 1)`` window around one of the AU's
    two centres, ``v_ik = max(1 - d_ik * xi / (map_size * zeta), 0)`` with ``d_ik`` the
    Manhattan distance (as the paper states) and ``h = round((map_size - 1) / 2 * zeta)``;
    the maximum over the two centres; 0 outside both windows. ``uniform=True`` is the paper's
    "UA" ablation (``xi = 0``: weight 1 in the windows).

    Args:
        landmarks: ``(batch, 49, 2)`` landmarks in pixels of the ``image_size`` input, or
            ``(49, 2)`` for one face (e.g. inside ``tf.data``); 66 or 68 points are converted.
        aus: AUs among ``tfau.faces.JAANET_AUS``; one map each, in this order.
        image_size: size of the image the landmarks belong to: ``int`` (square) or
            ``(height, width)``. Defaults to 176.
        map_size: side of the map. Defaults to ``image_size // 4 + 8`` (52 for 176).
        zeta: ratio of the window width to the map width. Defaults to 0.14.
        xi: decay coefficient. Defaults to 0.56.
        uniform: weight 1 inside the windows (the "UA" variant). Defaults to False.

    Returns:
        ``(batch, map_size, map_size, len(aus))`` float32 maps in ``[0, 1]`` (no batch axis
        for one face).

    Example:
        >>> maps = jaanet_attention_maps(landmarks, aus=(1, 2, 4), image_size=176)
        >>> maps.shape  # (batch, 52, 52, 3)

    Reference:
        Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
        Alignment", ECCV 2018 (eq. 3, Table 3).
    """
    height, width = image_height_width(image_size)
    if map_size is None:
        map_size = jaanet_map_size(width)
    if zeta <= 0:
        raise ValueError(f"`zeta` must be > 0. Received: zeta={zeta}")
    _validate_map_args(map_size, 0, xi)
    _check_centre_rounding(centre_rounding)
    slope = 0.0 if uniform else xi / (map_size * zeta)
    half_size = jaanet_half_size(map_size, zeta)
    landmarks, one_face = _as_batch(landmarks)
    centres = jaanet_au_centres(landmarks, aus)  # (B, 2A, 2), AU k at rows 2k, 2k + 1
    per_centre = _per_centre_maps(
        centres, (height, width), map_size, half_size, slope, centre_rounding
    )
    pairs = tf.reshape(per_centre, [-1, len(aus), 2, map_size, map_size])
    maps = tf.transpose(tf.reduce_max(pairs, axis=2), [0, 2, 3, 1])
    return maps[0] if one_face else maps


def eacnet_attention_map(
    landmarks: Any,
    image_size: int | Sequence[int],
    map_size: int = EACNET_MAP_SIZE,
    aus: Sequence[int] | None = None,
    half_size: int = EACNET_HALF_SIZE,
    slope: float = EACNET_SLOPE,
) -> tf.Tensor:
    """EAC-Net's attention map (eq. 1) from its 20 AU centres, in the TF graph.

    Landmarks are scaled from the image to a ``map_size`` grid (100 in the paper); every
    centre gets an ``11 x 11`` window (``half_size`` 5) with weight ``1 - 0.095 * d_m``,
    ``d_m`` the Manhattan distance to the centre; overlaps keep the maximum.

    Args:
        landmarks: ``(batch, 49, 2)`` landmarks in pixels of the ``image_size`` input, or
            ``(49, 2)`` for one face (e.g. inside ``tf.data``); 66 or 68 points are converted.
        image_size: size of the image the landmarks belong to: ``int`` (square) or
            ``(height, width)``.
        map_size: side of the map grid. Defaults to 100.
        aus: ``None`` for the paper's single map over all 20 centres, or AUs among
            ``tfau.faces.EACNET_AUS`` for one map per AU (over that AU's centres).
        half_size: window half-size in map pixels. Defaults to 5 (11 x 11).
        slope: weight lost per unit of Manhattan distance. Defaults to 0.095.

    Returns:
        ``(batch, map_size, map_size, 1)`` (one channel, channels-last) when ``aus`` is
        ``None``, else ``(batch, map_size, map_size, len(aus))``; float32 in ``[0, 1]``; no
        batch axis for one face.

    Example:
        >>> eacnet_attention_map(landmarks, image_size=224).shape  # (batch, 100, 100, 1)

    Reference:
        Li et al., "EAC-Net: Deep Nets with Enhancing and Cropping for Facial Action Unit
        Detection", IEEE TPAMI 2018 (Sec. III-B, eq. 1, Table I).
    """
    _validate_map_args(map_size, half_size, slope)
    landmarks, one_face = _as_batch(landmarks)
    per_centre = _per_centre_maps(
        eacnet_roi_centres(landmarks), image_size, map_size, half_size, slope
    )
    if aus is None:
        maps = tf.reduce_max(per_centre, axis=1)[..., None]
        return maps[0] if one_face else maps
    # Maps of the 10 centre pairs, then each AU's maximum over its pairs (AU10 has two; the
    # others repeat their one pair so the table is rectangular).
    num_pairs = len(EACNET_CENTRES)
    pair_maps = tf.reduce_max(
        tf.reshape(per_centre, [-1, num_pairs, 2, map_size, map_size]), axis=2
    )
    pairs_of_au = [
        np.flatnonzero(row.reshape(num_pairs, 2).any(axis=1)) for row in eacnet_au_centre_mask(aus)
    ]
    width = max(len(p) for p in pairs_of_au)
    table = np.stack([np.resize(p, width) for p in pairs_of_au]).astype(np.int32)
    per_au = tf.reduce_max(tf.gather(pair_maps, table, axis=1), axis=2)  # (B, A, H, W)
    maps = tf.transpose(per_au, [0, 2, 3, 1])
    return maps[0] if one_face else maps
