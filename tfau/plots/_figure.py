"""Figure plumbing shared by the plots: Agg figures without pyplot, saving, face panels.

Every plot builds its own `matplotlib.figure.Figure` on an Agg canvas, so nothing goes
through pyplot's global state (no figure leaks between calls, no GUI backend, thread-safe
per figure).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width x height`` inches drawn by its own Agg canvas."""
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, path: str | os.PathLike) -> str:
    """Writes ``figure`` as PNG to ``path`` (parent folders created); returns the path."""
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"Plots are written as PNG: `path` must end in .png. Received: {path!r}")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


def au_label(au: int | str) -> str:
    """``"AU12"`` for AU 12 (strings are kept)."""
    return au if isinstance(au, str) else f"AU{int(au)}"


def display_image(image: Any) -> np.ndarray:
    """A network input (any value range, 1, 3 or more channels) as RGB floats in [0, 1].

    The first three channels are shown (the RGB frame of a frame + flow stack); the value
    range is stretched to [0, 1], since pipelines normalise images differently.
    """
    image = np.asarray(image, np.float64)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(
            f"An image must have shape (height, width[, channels]). Received: shape={image.shape}"
        )
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    image = image[..., :3]
    low, high = np.nanmin(image), np.nanmax(image)
    if high - low < 1e-12:
        return np.zeros_like(image)
    return (image - low) / (high - low)


def draw_map(
    ax: Any,
    image: np.ndarray | None,
    heat: np.ndarray,
    *,
    cmap: str = "jet",
    vmin: float = 0.0,
    vmax: float = 1.0,
    alpha: float = 0.55,
) -> Any:
    """Draws ``heat`` (any resolution) stretched over ``image`` (``(H, W, 3)`` in [0, 1]).

    The map covers the whole image whatever its size (matplotlib resamples it), so attention
    maps at a quarter of the input, occlusion grids and pixel saliency all overlay alike.
    Returns the map's ``AxesImage`` (for a colour bar).
    """
    heat = np.asarray(heat, np.float64)
    if image is None:
        height, width = heat.shape
    else:
        height, width = image.shape[:2]
        ax.imshow(image, extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    shown = ax.imshow(
        np.ma.masked_invalid(heat),
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        alpha=alpha if image is not None else 1.0,
        interpolation="bilinear",
        extent=(-0.5, width - 0.5, height - 0.5, -0.5),
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def face_map_grid(
    faces: Sequence[np.ndarray | None],
    rows: Sequence[np.ndarray],
    row_names: Sequence[str],
    column_names: Sequence[str],
    *,
    show_faces_row: bool,
    cmap: str = "jet",
    vmin: float = 0.0,
    vmax: float = 1.0,
    colorbar_label: str = "",
    title: str | None = None,
) -> Figure:
    """A grid of maps over faces: one column per AU, one row per map set.

    Args:
        faces: per column, the RGB face in [0, 1] under that column's maps (None: no face).
        rows: per row, ``(h, w, num_columns)`` maps.
        row_names: label of each row.
        column_names: label of each column (the AUs).
        show_faces_row: add a first row with the bare faces (DRML Fig. 4, AUNets Fig. 5).
        cmap: colour map of the maps.
        vmin: value drawn with the first colour.
        vmax: value drawn with the last colour.
        colorbar_label: label of the shared colour bar.
        title: figure title.

    Returns:
        The figure.
    """
    num_columns = len(column_names)
    num_rows = len(rows) + int(show_faces_row)
    figure = new_figure(1.6 * num_columns + 1.8, 1.7 * num_rows + 0.7)
    axes = figure.subplots(num_rows, num_columns, squeeze=False)
    shown = None
    if show_faces_row:
        for column, ax in enumerate(axes[0]):
            face = faces[column]
            if face is not None:
                ax.imshow(face)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(column_names[column], fontsize=9)
        axes[0][0].set_ylabel("face", fontsize=9)
    for row, (maps, name) in enumerate(zip(rows, row_names, strict=True)):
        row_axes = axes[row + int(show_faces_row)]
        for column, ax in enumerate(row_axes):
            shown = draw_map(ax, faces[column], maps[..., column], cmap=cmap, vmin=vmin, vmax=vmax)
            if row == 0 and not show_faces_row:
                ax.set_title(column_names[column], fontsize=9)
        row_axes[0].set_ylabel(name, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    add_side_colorbar(figure, shown, colorbar_label)
    return figure


def add_side_colorbar(figure: Figure, shown: Any, label: str) -> None:
    """Makes room on the right of a grid of panels and puts a shared colour bar there."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=0.45 / width,
        right=1 - 1.35 / width,
        bottom=0.1 / height,
        top=1 - 0.55 / height,
        wspace=0.05,
        hspace=0.1,
    )
    colorbar_axes = figure.add_axes((1 - 1.2 / width, 0.1, 0.15 / width, 0.75))
    figure.colorbar(shown, cax=colorbar_axes, label=label)
