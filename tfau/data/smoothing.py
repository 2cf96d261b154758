"""Temporal median smoothing of AU probabilities along each face track.

AUNets smooth their per-frame predictions with a median filter over time (windows of 3, 5 and
7 frames); an AU then occurs where the smoothed probability reaches the threshold. Here the
median runs over a face track's consecutive frames only: a frame where the face was not found
ends the segment, and windows shrink at the ends of a segment (the median of the frames
available within ``window // 2`` of the frame).

`median_smooth` is the offline filter (a NaN is a gap, as a frame without the face is in the
plots of ``tfau predict``'s CSV, `tfau.plots`); `TrackSmoother` computes the same values while
a video streams, so rows can be written ``window // 2`` frames after they are seen.

Reference:
    Romero et al., "Multi-View Dynamic Facial Action Unit Detection" (AUNets), Image and
    Vision Computing 2018, Sec. 4.2 (median filtering of the predictions).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _check_window(window: int) -> int:
    if not isinstance(window, int | np.integer) or window < 1 or window % 2 == 0:
        raise ValueError(
            f"`window` must be a positive odd integer (1: no smoothing; AUNets use 3, 5, 7). "
            f"Received: window={window!r}"
        )
    return int(window)


def runs(mask: Any) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the runs of True in a 1-D bool array.

    Example:
        >>> runs([True, True, False, True])
        [(0, 2), (3, 4)]
    """
    mask = np.asarray(mask, bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(start), int(stop)) for start, stop in zip(starts, stops, strict=True)]


def _segment_median(values: np.ndarray, half: int) -> np.ndarray:
    """Centred running median along axis 0, windows shrinking at the ends."""
    if not len(values):
        return values.copy()
    return np.stack(
        [np.median(values[max(0, t - half) : t + half + 1], axis=0) for t in range(len(values))]
    )


def median_smooth(values: Any, window: int) -> np.ndarray:
    """Centred running median along axis 0, never across a gap (NaN), windows shrinking at ends.

    Each run of non-NaN values of a column is filtered on its own: row ``t`` of a run
    ``[a, b)`` is the median of rows ``max(a, t - h)`` to ``min(b, t + h + 1)``,
    ``h = window // 2``. NaNs stay NaN. Values without NaN are one run (one face track's
    segment, as `TrackSmoother` streams it).

    Args:
        values: ``(T, ...)`` per-frame values (e.g. ``(T, num_aus)`` probabilities), NaN in
            gaps.
        window: odd window length in frames (1 returns the values unchanged).

    Returns:
        ``(T, ...)`` float32 (float64 for float64 values).

    Example:
        >>> median_smooth([[0.1], [0.9], [0.2], [0.3]], 3)[:, 0].tolist()
        [0.5, 0.2, 0.3, 0.25]
        >>> median_smooth(np.array([0, 1, 0, 0, np.nan, 1, 0]), 3).tolist()
        [0.5, 0.0, 0.0, 0.0, nan, 0.5, 0.5]
    """
    half = _check_window(window) // 2
    values = np.asarray(values)
    if values.dtype != np.float64:
        values = values.astype(np.float32)
    if values.ndim == 0:
        raise ValueError("Expected per-frame values of shape (T, ...). Received a scalar.")
    gaps = np.isnan(values)
    if not gaps.any():
        return _segment_median(values, half)
    flat = values.reshape(len(values), -1)
    smoothed = np.full_like(flat, np.nan)
    for column, gap in enumerate(gaps.reshape(len(values), -1).T):
        for start, stop in runs(~gap):
            smoothed[start:stop, column] = _segment_median(flat[start:stop, column], half)
    return smoothed.reshape(values.shape)


class TrackSmoother:
    """`median_smooth` over every face track while frames stream in.

    Args:
        window: odd window length in frames (1: no smoothing).

    Example:
        >>> smoother = TrackSmoother(window=5)
        >>> handle = smoother.add(face_id=0, frame=0, values=probabilities)
        >>> ...  # two frames later (window // 2), or at the end of the video:
        >>> smoother.value(handle)
    """

    def __init__(self, window: int) -> None:
        self.window = _check_window(window)
        self.half = self.window // 2
        # face id -> (last frame, the current segment's rows)
        self._segments: dict[int, tuple[int, list[np.ndarray]]] = {}

    def add(self, face_id: int, frame: int, values: Any) -> tuple[list[np.ndarray], int]:
        """Adds the values of ``face_id`` at ``frame``; returns a handle for `value`.

        Frames of one face must come in increasing order; a gap starts a new segment.
        """
        values = np.asarray(values, np.float32)
        last = self._segments.get(face_id)
        if last is None or frame != last[0] + 1:
            segment: list[np.ndarray] = []
        else:
            segment = last[1]
        segment.append(values)
        self._segments[face_id] = (frame, segment)
        return segment, len(segment) - 1

    def value(self, handle: tuple[list[np.ndarray], int]) -> np.ndarray:
        """The smoothed values of a row.

        Final once ``window // 2`` later frames have been added (or the track has ended): the
        same as `median_smooth` of the whole segment at that row.
        """
        segment, index = handle
        rows = segment[max(0, index - self.half) : index + self.half + 1]
        return np.median(np.stack(rows), axis=0).astype(np.float32)


__all__ = ["TrackSmoother", "median_smooth", "runs"]
