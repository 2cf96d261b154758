"""Result tables and charts of a cross-validation run: per-AU F1 / accuracy / AUC per fold.

`evaluate_predictions` turns a fold's labels and probabilities into per-AU metrics with the
numpy functions of `tfau.metrics` (unknown labels -1 ignored, threshold 0.5). `write_results`
writes a run's results folder:

- ``per_fold.csv``: one row per (seed, fold, metric) with one column per AU and the mean.
- ``summary.csv``: one row per AU (and ``mean``): F1 / accuracy / AUC mean and std over every
  (seed, fold) run, and the paper's F1 where it was published.
- ``results.md``: the same tables in Markdown.
- ``f1_vs_paper.png``: a bar chart of tfau's per-AU F1 (mean +- std) beside the paper's.

All numbers are percentages. The "mean" column of a fold is the mean over AUs of that fold;
the summary's mean row is the mean and std over folds of those per-fold means.

Example:
    >>> fold = evaluate_predictions([[1, 0], [0, 1]], [[0.9, 0.2], [0.1, 0.8]], aus=(1, 2))
    >>> fold.f1.tolist()
    [100.0, 100.0]
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfau.metrics import accuracy, f1_frame, roc_auc
from tfau.training.paper_results import PaperResult

METRICS: tuple[str, ...] = ("f1", "accuracy", "auc")


@dataclasses.dataclass(frozen=True)
class FoldResult:
    """Per-AU metrics (percent) of one fold and seed.

    Args:
        fold: the fold's name (its test part, e.g. ``"part1"``).
        seed: the run's seed.
        aus: AU numbers.
        f1: F1-frame per AU, percent.
        accuracy: accuracy per AU, percent.
        auc: ROC AUC per AU, percent (NaN where the test labels of an AU are all one class).
        num_frames: test frames evaluated.
        best_epoch: the epoch chosen on the validation subjects (None if not selected).
        validation_f1: mean validation F1 (percent) at ``best_epoch``.
    """

    fold: str
    seed: int
    aus: tuple[int, ...]
    f1: np.ndarray
    accuracy: np.ndarray
    auc: np.ndarray
    num_frames: int
    best_epoch: int | None = None
    validation_f1: float | None = None

    def metric(self, name: str) -> np.ndarray:
        """The per-AU values of metric ``name`` (``"f1"``, ``"accuracy"``, ``"auc"``)."""
        if name not in METRICS:
            raise ValueError(f"`name` must be one of {METRICS}. Received: name={name!r}")
        return getattr(self, name)


def evaluate_predictions(
    y_true: Any,
    y_prob: Any,
    aus: Sequence[int],
    fold: str = "",
    seed: int = 0,
    threshold: float = 0.5,
    best_epoch: int | None = None,
    validation_f1: float | None = None,
) -> FoldResult:
    """Per-AU F1, accuracy and AUC (percent) of one fold's predictions.

    Args:
        y_true: ``(num_frames, num_aus)`` labels, 1 present / 0 absent / -1 unknown.
        y_prob: ``(num_frames, num_aus)`` probabilities.
        aus: AU numbers of the columns.
        fold: fold name (its test part).
        seed: the run's seed.
        threshold: decision threshold (``p >= threshold``). Defaults to 0.5 (every paper).
        best_epoch: epoch chosen on the validation subjects.
        validation_f1: validation mean F1 at ``best_epoch`` (percent).

    Returns:
        A `FoldResult`.

    Example:
        >>> evaluate_predictions([[1], [0]], [[0.7], [0.6]], aus=(12,)).accuracy.tolist()
        [50.0]
    """
    y_true = np.asarray(y_true)
    if y_true.ndim != 2 or y_true.shape[1] != len(aus):
        raise ValueError(
            f"`y_true` must have shape (num_frames, {len(aus)}) for aus={tuple(aus)}. "
            f"Received: shape={y_true.shape}"
        )
    return FoldResult(
        fold=fold,
        seed=int(seed),
        aus=tuple(int(a) for a in aus),
        f1=100.0 * np.asarray(f1_frame(y_true, y_prob, threshold=threshold), np.float64),
        accuracy=100.0 * np.asarray(accuracy(y_true, y_prob, threshold=threshold), np.float64),
        auc=100.0 * np.asarray(roc_auc(y_true, y_prob), np.float64),
        num_frames=int(y_true.shape[0]),
        best_epoch=best_epoch,
        validation_f1=validation_f1,
    )


def summarize(folds: Sequence[FoldResult]) -> dict[str, dict[str, np.ndarray]]:
    """Mean and std (over every seed and fold) of each metric, per AU and of the per-fold means.

    Args:
        folds: the runs' `FoldResult`s (same AUs).

    Returns:
        ``{metric: {"mean": (num_aus + 1,), "std": (num_aus + 1,)}}``, the last entry being
        the mean over AUs. std is the population std (``ddof=0``), 0 for a single run; NaN
        AUCs are left out of their AU's statistics.
    """
    if not folds:
        raise ValueError("`folds` must hold at least one FoldResult. Received: []")
    aus = folds[0].aus
    for fold in folds:
        if fold.aus != aus:
            raise ValueError(
                f"Every fold must have the same AUs. Received: {aus} and {fold.aus} "
                f"(fold {fold.fold!r}, seed {fold.seed})"
            )
    summary = {}
    for name in METRICS:
        values = np.stack([f.metric(name) for f in folds])
        table = np.concatenate([values, [[_mean(v)] for v in values]], axis=1)
        columns = [c[np.isfinite(c)] for c in table.T]
        summary[name] = {
            "mean": np.array([c.mean() if c.size else np.nan for c in columns]),
            "std": np.array([c.std() if c.size else np.nan for c in columns]),
        }
    return summary


def _mean(values: np.ndarray) -> float:
    """Mean of the finite entries (NaN if none), without numpy's empty-slice warning."""
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def _fmt(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.1f}"


def _paper_row(aus: Sequence[int], paper: PaperResult | None) -> list[float]:
    if paper is None:
        return [np.nan] * (len(aus) + 1)
    per_au = paper.per_au
    return [per_au.get(au, np.nan) for au in aus] + [paper.reported_mean]


def write_results(
    folder: str | os.PathLike,
    folds: Sequence[FoldResult],
    paper: PaperResult | None = None,
    title: str = "tfau",
) -> dict[str, str]:
    """Writes a run's results folder: CSV, Markdown and the F1 bar chart.

    Args:
        folder: output directory (created).
        folds: every (seed, fold) `FoldResult` of the run.
        paper: the published result to print beside tfau's (None: no paper column values).
        title: name of the run in the Markdown heading and the chart.

    Returns:
        ``{"per_fold_csv", "summary_csv", "markdown", "chart"}`` -> written paths.

    Example:
        >>> paths = write_results("/tmp/run/results", folds, paper_result("drml", "bp4d"))
    """
    os.makedirs(folder, exist_ok=True)
    aus = folds[0].aus
    summary = summarize(folds)
    au_names = [f"AU{au}" for au in aus]
    paper_row = _paper_row(aus, paper)
    paths = {
        "per_fold_csv": os.path.join(folder, "per_fold.csv"),
        "summary_csv": os.path.join(folder, "summary.csv"),
        "markdown": os.path.join(folder, "results.md"),
        "chart": os.path.join(folder, "f1_vs_paper.png"),
    }

    with open(paths["per_fold_csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["seed", "fold", "metric", *au_names, "mean", "num_frames", "best_epoch", "val_f1"]
        )
        for fold in folds:
            for name in METRICS:
                values = fold.metric(name)
                writer.writerow(
                    [fold.seed, fold.fold, name]
                    + [f"{v:.4f}" for v in values]
                    + [f"{_mean(values):.4f}"]
                    + [fold.num_frames, fold.best_epoch, fold.validation_f1]
                )

    with open(paths["summary_csv"], "w", newline="") as f:
        writer = csv.writer(f)
        header = ["au"]
        for name in METRICS:
            header += [f"{name}_mean", f"{name}_std"]
        writer.writerow([*header, "paper_f1"])
        for i, au_name in enumerate([*au_names, "mean"]):
            row = [au_name]
            for name in METRICS:
                row += [f"{summary[name]['mean'][i]:.4f}", f"{summary[name]['std'][i]:.4f}"]
            writer.writerow([*row, f"{paper_row[i]:.2f}"])

    runs = [f"seed {f.seed} / {f.fold}" for f in folds]
    lines = [f"# {title}", ""]
    if paper is not None:
        lines += [f"Paper: {paper.source}.", ""]
        if paper.note:
            lines += [paper.note, ""]
    lines += [
        f"F1-frame, accuracy and AUC in percent; {len(folds)} run(s) "
        "(folds named by their test part); mean +- std over runs.",
        "",
        "## Summary",
        "",
        "| AU | F1 | accuracy | AUC | paper F1 |",
        "|---|---|---|---|---|",
    ]
    for i, au_name in enumerate([*au_names, "mean"]):
        cells = [f"{_fmt(summary[n]['mean'][i])} +- {_fmt(summary[n]['std'][i])}" for n in METRICS]
        lines.append(f"| {au_name} | {' | '.join(cells)} | {_fmt(paper_row[i])} |")
    for name in METRICS:
        lines += ["", f"## {name} per fold", ""]
        lines.append(f"| run | {' | '.join(au_names)} | mean |")
        lines.append("|---" * (len(aus) + 2) + "|")
        for run, fold in zip(runs, folds, strict=True):
            values = fold.metric(name)
            cells = " | ".join(_fmt(v) for v in values)
            lines.append(f"| {run} | {cells} | {_fmt(_mean(values))} |")
        means = summary[name]["mean"]
        stds = summary[name]["std"]
        cells = [f"{_fmt(m)} +- {_fmt(s)}" for m, s in zip(means, stds, strict=True)]
        lines.append(f"| mean +- std | {' | '.join(cells)} |")
        if name == "f1":
            lines.append(f"| paper | {' | '.join(_fmt(v) for v in paper_row)} |")
    selected = [f for f in folds if f.best_epoch is not None]
    if selected:
        lines += ["", "## Model selection (validation subjects)", ""]
        lines += ["| run | best epoch | validation mean F1 |", "|---|---|---|"]
        for run, fold in zip(runs, folds, strict=True):
            if fold.best_epoch is not None:
                lines.append(f"| {run} | {fold.best_epoch} | {_fmt(fold.validation_f1)} |")
    with open(paths["markdown"], "w") as f:
        f.write("\n".join(lines) + "\n")

    # tfau.plots owns the chart (training -> plots; plots imports nothing from training).
    from tfau.plots.f1 import plot_f1_vs_paper

    plot_f1_vs_paper(paths["chart"], aus, summary["f1"], paper_row, title=title)
    return paths
