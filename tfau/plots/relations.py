"""Relations among AUs: co-occurrence (Jaccard) and correlation tables.

- `jaccard_matrix`: ``J(i, j) = |i and j| / |i or j|`` over the frames where both AUs are
  labelled (PAttNet Fig. 3).
- `correlation_matrix`: pairwise Pearson correlation over the frames where both are known.
- `relation_tables`: the correlation of the ground truth beside that of a model's
  predictions, on the same frames, and their distance (DRML Fig. 5 (b)-(d)).
- `plot_cooccurrence`, `plot_relations`: the tables as annotated heat maps.

Labels use 1 = present, 0 = absent, -1 = unknown; unknown entries are left out pairwise.

Example:
    >>> jaccard_matrix([[1, 1], [1, 0], [0, 0]]).round(2).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfau.plots._figure import au_label, new_figure, save


def _labels(labels: Any, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"`{name}` must be (num_frames, num_aus). Received: shape={labels.shape}")
    values = set(np.unique(labels).tolist())
    if not values <= {-1, 0, 1}:
        raise ValueError(
            f"`{name}` must hold 1 (present), 0 (absent) or -1 (unknown). "
            f"Received values: {sorted(values)}"
        )
    return labels.astype(np.int64)


def jaccard_matrix(labels: Any) -> np.ndarray:
    """AU co-occurrence as the Jaccard index of each pair of AUs.

    ``J(i, j) = #(frames with i and j present) / #(frames with i or j present)``, counted
    over the frames where both AUs are labelled (-1 left out); NaN where neither occurs.

    Args:
        labels: ``(num_frames, num_aus)`` labels, 1 / 0 / -1.

    Returns:
        ``(num_aus, num_aus)`` float64, symmetric, 1 on the diagonal of occurring AUs.

    Example:
        >>> jaccard_matrix([[1, 1], [1, -1], [0, 1]])[0, 1]
        0.5

    Reference:
        Onal Ertugrul, Jeni and Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, Fig. 3.
    """
    labels = _labels(labels)
    known = (labels >= 0).astype(np.float64)
    present = (labels == 1).astype(np.float64)
    both = present.T @ present
    # |i or j| on frames where both are known: present_i * known_j + known_i * present_j - both
    either = present.T @ known + known.T @ present - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(either > 0, both / np.where(either > 0, either, 1.0), np.nan)


def correlation_matrix(values: Any, known: Any | None = None) -> np.ndarray:
    """Pearson correlation of every pair of columns over the rows where both are known.

    Args:
        values: ``(num_frames, num_aus)`` numbers (labels, predictions, probabilities).
        known: ``(num_frames, num_aus)`` bool mask of usable entries (default: all finite).

    Returns:
        ``(num_aus, num_aus)`` float64; NaN where a column is constant on the shared rows
        (or fewer than two rows are shared).

    Example:
        >>> correlation_matrix([[1, 1], [0, 0], [1, 0]])[0, 1].round(3)
        0.5
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2:
        raise ValueError(f"`values` must be (num_frames, num_aus). Received: shape={values.shape}")
    known = np.isfinite(values) if known is None else np.asarray(known, bool)
    if known.shape != values.shape:
        raise ValueError(
            f"`known` must have the shape of `values` {values.shape}. Received: {known.shape}"
        )
    num_aus = values.shape[1]
    table = np.full((num_aus, num_aus), np.nan)
    for i in range(num_aus):
        for j in range(i, num_aus):
            rows = known[:, i] & known[:, j]
            if rows.sum() < 2:
                continue
            a = values[rows, i] - values[rows, i].mean()
            b = values[rows, j] - values[rows, j].mean()
            scale = np.sqrt((a * a).sum() * (b * b).sum())
            if scale > 0:
                table[i, j] = table[j, i] = float((a * b).sum() / scale)
    return table


def relation_distance(table: Any, reference: Any) -> float:
    """Mean squared difference of two relation tables over their finite off-diagonal entries.

    DRML reports an "element-wise Euclidean distance" between the ground truth's and the
    networks' tables (0.0068 for DRML, 0.0077 for AlexNet) without its formula; values that
    small fit a mean of squared element differences, the reading used here.

    Example:
        >>> relation_distance([[1, 0.5], [0.5, 1]], [[1, 0.3], [0.3, 1]])
        0.04000000000000001
    """
    table = np.asarray(table, np.float64)
    reference = np.asarray(reference, np.float64)
    if table.shape != reference.shape or table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError(
            "`table` and `reference` must be square tables of the same shape. "
            f"Received: {table.shape} and {reference.shape}"
        )
    off_diagonal = ~np.eye(len(table), dtype=bool)
    difference = (table - reference)[off_diagonal & np.isfinite(table) & np.isfinite(reference)]
    return float(np.mean(difference**2)) if difference.size else float("nan")


def relation_tables(y_true: Any, y_prob: Any, threshold: float | None = 0.5) -> dict[str, Any]:
    """DRML Fig. 5's relation tables: AU correlations of the labels and of the predictions.

    Both tables are computed on the same entries: those whose label is known. Predictions are
    thresholded (``p >= threshold``) as the labels are binary; ``threshold=None`` correlates
    the probabilities themselves.

    Args:
        y_true: ``(num_frames, num_aus)`` labels, 1 / 0 / -1.
        y_prob: ``(num_frames, num_aus)`` probabilities.
        threshold: decision threshold, or None for probabilities. Defaults to 0.5.

    Returns:
        ``{"ground_truth": (A, A), "prediction": (A, A), "distance": float}``, the distance
        from `relation_distance`.

    Example:
        >>> tables = relation_tables(labels, probabilities)
        >>> tables["distance"]

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, section 4.3 and Fig. 5.
    """
    labels = _labels(y_true, "y_true")
    y_prob = np.asarray(y_prob, np.float64)
    if y_prob.shape != labels.shape:
        raise ValueError(
            f"`y_prob` must have the shape of `y_true` {labels.shape}. Received: {y_prob.shape}"
        )
    known = labels >= 0
    predictions = y_prob if threshold is None else (y_prob >= threshold).astype(np.float64)
    ground_truth = correlation_matrix(labels, known)
    prediction = correlation_matrix(predictions, known)
    return {
        "ground_truth": ground_truth,
        "prediction": prediction,
        "distance": relation_distance(prediction, ground_truth),
    }


def _draw_table(ax: Any, table: np.ndarray, aus: Sequence[Any], cmap: str, vmin: float) -> Any:
    shown = ax.imshow(np.ma.masked_invalid(table), cmap=cmap, vmin=vmin, vmax=1.0)
    labels = [au_label(au) for au in aus]
    ax.set_xticks(range(len(aus)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(aus)), labels, fontsize=7)
    if len(aus) <= 16:
        for (i, j), value in np.ndenumerate(table):
            if np.isfinite(value):
                dark = abs(value) > 0.6 if vmin < 0 else value > 0.6
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=5.5,
                    color="white" if dark else "black",
                )
    return shown


def _check_table(table: Any, aus: Sequence[Any], name: str) -> np.ndarray:
    table = np.asarray(table, np.float64)
    if table.shape != (len(aus), len(aus)):
        raise ValueError(
            f"`{name}` must be ({len(aus)}, {len(aus)}) for aus={list(aus)}. "
            f"Received: shape={table.shape}"
        )
    return table


def plot_cooccurrence(
    path: str | os.PathLike,
    jaccard: Any,
    aus: Sequence[int | str],
    title: str | None = "AU co-occurrence (Jaccard index)",
) -> str:
    """PAttNet Fig. 3: the Jaccard co-occurrence matrix as an annotated heat map.

    Args:
        path: PNG file to write.
        jaccard: ``(A, A)`` table of `jaccard_matrix`.
        aus: AU of each row / column.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> plot_cooccurrence("jaccard.png", jaccard_matrix(labels), aus=BP4D_AUS)

    Reference:
        Onal Ertugrul, Jeni and Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, Fig. 3.
    """
    table = _check_table(jaccard, aus, "jaccard")
    figure = new_figure(0.42 * len(aus) + 2.2, 0.42 * len(aus) + 1.4)
    ax = figure.subplots()
    shown = _draw_table(ax, table, aus, "viridis", 0.0)
    figure.colorbar(shown, ax=ax, fraction=0.046, label="Jaccard index")
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)


def plot_relations(
    path: str | os.PathLike,
    tables: Mapping[str, Any],
    aus: Sequence[int | str],
    reference: str | None = "ground truth",
    title: str | None = "AU correlation tables (DRML Fig. 5)",
) -> str:
    """DRML Fig. 5 (b)-(d): correlation tables side by side on one [-1, 1] colour scale.

    Args:
        path: PNG file to write.
        tables: ``{panel name: (A, A) table}``, drawn left to right.
        aus: AU of each row / column.
        reference: name of the table the others are compared with (their
            `relation_distance` is printed in their titles); None prints none.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> t = relation_tables(labels, probabilities)
        >>> plot_relations("relations.png", {"ground truth": t["ground_truth"],
        ...                                   "DRML": t["prediction"]}, aus)

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, Fig. 5.
    """
    if not tables:
        raise ValueError("`tables` must hold at least one table. Received: {}")
    if reference is not None and reference not in tables:
        raise ValueError(
            f"`reference` must name one of the tables {list(tables)}. Received: {reference!r}"
        )
    checked = {name: _check_table(table, aus, name) for name, table in tables.items()}
    side = 0.38 * len(aus) + 1.2
    figure = new_figure(side * len(checked) + 1.0, side + 0.9)
    axes = figure.subplots(1, len(checked), squeeze=False)[0]
    shown = None
    for ax, (name, table) in zip(axes, checked.items(), strict=True):
        shown = _draw_table(ax, table, aus, "RdBu_r", -1.0)
        label = name
        if reference is not None and name != reference:
            label += f"\ndistance {relation_distance(table, checked[reference]):.4f}"
        ax.set_title(label, fontsize=9)
    figure.colorbar(shown, ax=list(axes), fraction=0.02, label="correlation")
    if title:
        figure.suptitle(title, fontsize=10)
    return save(figure, path)
