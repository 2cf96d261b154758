"""A video's AU timeline from the OpenFace-style CSV of ``tfau predict``.

The CSV has one row per frame and face: ``frame, face_id, timestamp, confidence, success``,
then ``AU01_c, ...`` (occurrence 0/1) and ``AU01_p, ...`` (probability); OpenFace's leading
spaces in the header are tolerated. Each face is drawn over every frame of the CSV: frames
where it has no row (another face's row, or the ``face_id`` -1 row ``tfau predict`` and
OpenFace write for a frame without faces) or a row with ``success == 0`` are its gaps: no
line is drawn across them and they are shaded.

Example:
    >>> tracks = read_au_csv("predictions.csv")
    >>> paths = plot_timeline(tracks, "plots/", smooth_window=5)
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from tfau.data.smoothing import median_smooth, runs
from tfau.plots._figure import au_label, new_figure, save

_AU_COLUMN = re.compile(r"^AU(\d+)_([cp])$")
_REQUIRED = ("frame", "face_id", "timestamp", "success")


@dataclasses.dataclass(frozen=True)
class AUTrack:
    """One face's AU predictions over every frame of a video.

    Args:
        face_id: the face's id in the CSV.
        frame: ``(T,)`` int frame numbers of the whole CSV, ascending.
        timestamp: ``(T,)`` float seconds.
        success: ``(T,)`` bool, False where this face was not found (a gap).
        aus: AU numbers of the columns.
        probability: ``(T, A)`` float probabilities, NaN in gaps (None if the CSV has no
            ``_p`` columns).
        occurrence: ``(T, A)`` float 0/1 occurrences, NaN in gaps (None without ``_c``).
        confidence: ``(T,)`` float face confidence (NaN when the column is absent).
    """

    face_id: int
    frame: np.ndarray
    timestamp: np.ndarray
    success: np.ndarray
    aus: tuple[int, ...]
    probability: np.ndarray | None
    occurrence: np.ndarray | None
    confidence: np.ndarray


def _number(value: str, column: str, line: int, path: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"{path}, line {line}: column {column!r} must be a number. Received: {value!r}"
        ) from None


def read_au_csv(path: str | os.PathLike) -> dict[int, AUTrack]:
    """Reads an OpenFace-style AU CSV into one `AUTrack` per face id.

    Args:
        path: the CSV written by ``tfau predict``.

    Returns:
        ``{face_id: AUTrack}``, face ids ascending (``face_id`` -1, "no face", is no track).

    Raises:
        ValueError: a missing column, no AU columns, a non-numeric cell (naming the line), or
            two rows of one face in one frame.

    Example:
        >>> track = read_au_csv("video.csv")[0]
        >>> track.aus, track.probability.shape
        ((1, 2, 4), (250, 3))
    """
    path = os.fspath(path)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ValueError(f"{path} is empty: expected a header row.") from None
        rows = [row for row in reader if row]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise ValueError(
            f"{path} lacks the columns {missing}: expected an OpenFace-style AU CSV "
            f"(frame, face_id, timestamp, confidence, success, AUxx_c, AUxx_p). "
            f"Received columns: {header}"
        )
    au_columns: dict[str, dict[int, int]] = {"c": {}, "p": {}}
    for index, name in enumerate(header):
        match = _AU_COLUMN.match(name)
        if match:
            au_columns[match.group(2)][int(match.group(1))] = index
    aus = tuple(sorted(set(au_columns["c"]) | set(au_columns["p"])))
    if not aus:
        raise ValueError(f"{path} has no AU columns (AUxx_c or AUxx_p). Received columns: {header}")
    for kind in "cp":
        if au_columns[kind] and set(au_columns[kind]) != set(aus):
            raise ValueError(
                f"{path}: the AU_{kind} columns cover AUs {sorted(au_columns[kind])}, the "
                f"others {list(aus)}: every AU needs both or neither kind."
            )
    position = {name: header.index(name) for name in header}
    table = np.full((len(rows), len(header)), np.nan)
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: expected {len(header)} cells. Received: {len(row)}"
            )
        for index, value in enumerate(row):
            if index in au_columns["c"].values() or index in au_columns["p"].values():
                table[line - 2, index] = _number(value, header[index], line, path)
            elif header[index] in (*_REQUIRED, "confidence"):
                table[line - 2, index] = _number(value, header[index], line, path)

    if not rows:
        return {}
    frame_column = table[:, position["frame"]].astype(np.int64)
    face_ids = table[:, position["face_id"]].astype(np.int64)
    # Every face is drawn over every frame of the CSV: frames where it has no row (another
    # face's row, or OpenFace's face_id -1 row of a frame without faces) are its gaps.
    frames, first = np.unique(frame_column, return_index=True)
    timestamps = table[first, position["timestamp"]]
    tracks = {}
    for face_id in sorted(set(face_ids.tolist()) - {-1}):
        rows_of_face = table[face_ids == face_id]
        index = np.searchsorted(frames, rows_of_face[:, position["frame"]].astype(np.int64))
        if len(np.unique(index)) != len(index):
            counts = np.bincount(index)
            raise ValueError(
                f"{path}: face {face_id} has {counts.max()} rows for frame "
                f"{frames[counts.argmax()]}: expected at most one row per face and frame."
            )
        success = np.zeros(len(frames), bool)
        success[index] = rows_of_face[:, position["success"]] > 0.5

        def spread(columns: list[int], index=index, rows_of_face=rows_of_face, success=success):
            values = np.full((len(frames), len(columns)), np.nan)
            values[index] = rows_of_face[:, columns]
            values[~success] = np.nan
            return values

        tracks[face_id] = AUTrack(
            face_id=face_id,
            frame=frames,
            timestamp=timestamps,
            success=success,
            aus=aus,
            probability=(spread([au_columns["p"][au] for au in aus]) if au_columns["p"] else None),
            occurrence=(spread([au_columns["c"][au] for au in aus]) if au_columns["c"] else None),
            confidence=(
                spread([position["confidence"]])[:, 0]
                if "confidence" in position
                else np.full(len(frames), np.nan)
            ),
        )
    return tracks


def plot_track(
    track: AUTrack,
    path: str | os.PathLike,
    aus: Sequence[int] | None = None,
    smooth_window: int | None = None,
    threshold: float = 0.5,
    title: str | None = None,
) -> str:
    """Draws one face's timeline: one panel per AU over a shared time axis.

    Each panel shows the probability, the occurrence as shaded bands, the median-smoothed
    probability (``smooth_window``), the decision threshold and the gaps (grey).

    Args:
        track: the face's `AUTrack`.
        path: PNG file to write.
        aus: AUs to draw (default: every AU of the track).
        smooth_window: odd window of the median-smoothed curve; None draws none.
        threshold: decision threshold line. Defaults to 0.5.
        title: figure title (default: the face id).

    Returns:
        ``path``.

    Example:
        >>> plot_track(read_au_csv("video.csv")[0], "au_timeline.png", smooth_window=5)
    """
    aus = tuple(track.aus if aus is None else aus)
    unknown = [au for au in aus if au not in track.aus]
    if unknown or not aus:
        raise ValueError(
            f"`aus` must be a non-empty subset of the CSV's AUs {list(track.aus)}. "
            f"Received: aus={list(aus)}"
        )
    if len(track.frame) == 0:
        raise ValueError(f"Face {track.face_id} has no rows to plot.")
    columns = [track.aus.index(au) for au in aus]
    # Image folders have no clock: frame numbers when timestamps do not increase.
    timed = np.isfinite(track.timestamp).all() and (np.diff(track.timestamp) > 0).all()
    time = track.timestamp if timed else track.frame.astype(float)
    step = float(np.median(np.diff(time))) if len(time) > 1 else 1.0
    smoothed = (
        median_smooth(track.probability, smooth_window)
        if smooth_window is not None and track.probability is not None
        else None
    )
    height = 0.9 * len(aus) + 1.2
    figure = new_figure(10, height)
    axes = figure.subplots(len(aus), 1, sharex=True, squeeze=False)[:, 0]
    gaps = runs(~track.success)
    for ax, au, column in zip(axes, aus, columns, strict=True):
        if track.occurrence is not None:
            ax.fill_between(
                time,
                0,
                1,
                where=track.occurrence[:, column] > 0.5,
                step="mid",
                color="tab:orange",
                alpha=0.3,
                linewidth=0,
                label="occurrence",
            )
        if track.probability is not None:
            ax.plot(time, track.probability[:, column], color="tab:blue", lw=1, label="p")
        if smoothed is not None:
            ax.plot(
                time, smoothed[:, column], color="black", lw=1.2, label=f"median {smooth_window}"
            )
        for start, stop in gaps:
            ax.axvspan(time[start] - step / 2, time[stop - 1] + step / 2, color="0.8", lw=0)
        ax.axhline(threshold, color="tab:red", lw=0.6, ls="--")
        ax.set_ylim(-0.05, 1.05)
        ax.set_yticks([0, 1])
        ax.set_ylabel(au_label(au), rotation=0, ha="right", va="center", fontsize=9)
    axes[0].legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1].set_xlabel("time (s)" if timed else "frame")
    figure.suptitle(title or f"AU timeline, face {track.face_id}", fontsize=10)
    figure.subplots_adjust(
        left=0.08, right=0.98, top=1 - 0.4 / height, bottom=0.55 / height, hspace=0.15
    )
    return save(figure, path)


def plot_timeline(
    source: str | os.PathLike | Mapping[int, AUTrack],
    out_dir: str | os.PathLike,
    aus: Sequence[int] | None = None,
    smooth_window: int | None = None,
    threshold: float = 0.5,
    prefix: str = "au_timeline",
) -> list[str]:
    """One timeline PNG per face of a video: ``<out_dir>/<prefix>_face<id>.png``.

    Args:
        source: the CSV path, or `read_au_csv`'s tracks.
        out_dir: output folder (created).
        aus: AUs to draw (default: all).
        smooth_window: odd window of the median-smoothed curve; None draws none.
        threshold: decision threshold line. Defaults to 0.5.
        prefix: file name prefix.

    Returns:
        The written paths, by ascending face id.

    Example:
        >>> plot_timeline("video.csv", "plots", smooth_window=5)
        ['plots/au_timeline_face0.png']
    """
    tracks = read_au_csv(source) if isinstance(source, str | os.PathLike) else source
    if not tracks:
        raise ValueError("The CSV has no rows: nothing to plot.")
    return [
        plot_track(
            track,
            os.path.join(out_dir, f"{prefix}_face{face_id}.png"),
            aus=aus,
            smooth_window=smooth_window,
            threshold=threshold,
        )
        for face_id, track in sorted(tracks.items())
    ]
