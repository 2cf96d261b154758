"""Per-AU F1 bars beside the papers' numbers.

`plot_f1_vs_paper` is the one chart of a run's per-AU F1-frame: `tfau.training.results`
calls it when it writes a results folder (``f1_vs_paper.png``), and ``tfau plot f1`` redraws
it from that folder's ``summary.csv`` (`read_f1_summary`). tfau.plots imports nothing from
tfau.training: the papers' numbers arrive as plain values.

Example:
    >>> aus, f1, paper = read_f1_summary("runs/drml/results/summary.csv")
    >>> plot_f1_vs_paper("f1.png", aus, f1, paper, title="DRML on BP4D")
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from tfau.plots._figure import new_figure, save

_AU_ROW = re.compile(r"^AU(\d+)$")


def plot_f1_vs_paper(
    path: str | os.PathLike,
    aus: Sequence[int],
    f1_summary: Mapping[str, np.ndarray],
    paper_row: Sequence[float],
    title: str = "tfau",
) -> str:
    """Bar chart: tfau's per-AU F1 (mean +- std) beside the paper's, and the means.

    Args:
        path: PNG file to write.
        aus: AU numbers.
        f1_summary: ``{"mean": (A + 1,), "std": (A + 1,)}`` percent, the last entry the
            mean over AUs (``tfau.training.results.summarize(...)["f1"]``).
        paper_row: the paper's per-AU F1 and its mean, ``(A + 1,)`` percent (NaN where not
            published; no paper bars when all are NaN).
        title: chart title.

    Returns:
        ``path``.

    Example:
        >>> plot_f1_vs_paper("f1.png", (1, 2), {"mean": [40, 50, 45], "std": [2, 3, 2.5]},
        ...                  [36.4, 41.8, 39.1])
    """
    labels = [f"AU{au}" for au in aus] + ["mean"]
    mean = np.asarray(f1_summary["mean"], np.float64)
    std = np.asarray(f1_summary["std"], np.float64)
    paper = np.asarray(paper_row, np.float64)
    for name, values in (("f1_summary['mean']", mean), ("f1_summary['std']", std)):
        if values.shape != (len(labels),):
            raise ValueError(
                f"`{name}` must have one value per AU and the mean ({len(labels)}). "
                f"Received: shape={values.shape}"
            )
    if paper.shape != (len(labels),):
        raise ValueError(
            f"`paper_row` must have one value per AU and the mean ({len(labels)}). "
            f"Received: shape={paper.shape}"
        )
    x = np.arange(len(labels))
    figure = new_figure(max(6.0, 0.7 * len(labels) + 2), 4)
    ax = figure.subplots()
    ax.bar(x - 0.2, mean, 0.4, yerr=std, capsize=3, label="tfau")
    if np.isfinite(paper).any():
        ax.bar(x + 0.2, np.nan_to_num(paper), 0.4, label="paper")
    ax.set_xticks(x, labels, rotation=45)
    ax.set_ylabel("F1-frame (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend()
    figure.tight_layout()
    return save(figure, path)


def read_f1_summary(
    path: str | os.PathLike,
) -> tuple[tuple[int, ...], dict[str, np.ndarray], np.ndarray]:
    """Reads the F1 columns of a results folder's ``summary.csv``.

    Args:
        path: ``summary.csv`` written by `tfau.training.results.write_results` (rows
            ``AU<n>`` then ``mean``; columns ``f1_mean``, ``f1_std``, ``paper_f1``).

    Returns:
        ``(aus, {"mean": (A + 1,), "std": (A + 1,)}, paper_row (A + 1,))``, percent, the
        arguments of `plot_f1_vs_paper`.

    Raises:
        ValueError: missing columns or rows.

    Example:
        >>> aus, f1, paper = read_f1_summary("runs/drml_bp4d/results/summary.csv")
        >>> f1["mean"][-1]  # mean F1 over AUs, percent
    """
    path = os.fspath(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    needed = {"au", "f1_mean", "f1_std", "paper_f1"}
    if not rows or not needed <= set(rows[0]):
        found = sorted(rows[0]) if rows else []
        raise ValueError(
            f"{path} must be a tfau summary.csv with columns {sorted(needed)} and one row per "
            f"AU. Received columns: {found}"
        )
    aus = []
    for row in rows[:-1]:
        match = _AU_ROW.match(row["au"])
        if not match:
            raise ValueError(f"{path}: expected AU rows (AU1, AU2, ...). Received: {row['au']!r}")
        aus.append(int(match.group(1)))
    if rows[-1]["au"] != "mean":
        raise ValueError(f"{path}: the last row must be 'mean'. Received: {rows[-1]['au']!r}")
    column = {name: np.array([float(row[name]) for row in rows]) for name in needed - {"au"}}
    return (
        tuple(aus),
        {"mean": column["f1_mean"], "std": column["f1_std"]},
        column["paper_f1"],
    )
