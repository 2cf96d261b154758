"""PAttNet's AU x patch attention matrix (its Fig. 4).

PAttNet trains one network per AU (`tfau.models.PAttNetPerAU`); each returns the weights
``alpha_p`` of its nine patches (``"patch_attention"``). The matrix row of an AU is the mean
of its network's weights over a set of faces; the paper averages the rows of the models of
every training fold and draws the matrix in grey (white 0, black 1).

Example:
    >>> models = tfau.models.PAttNetPerAU(aus=(1, 2, 4), input_shape=(9, 40, 40, 3), ...)
    >>> matrix = patch_attention_matrix(models, patches)          # (3, 9)
    >>> plot_patch_attention("pattnet_attention.png", matrix, aus=(1, 2, 4))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfau.plots._figure import au_label, new_figure, save

#: PAttNet's nine patches (section 3.1): P1 right eyebrow ... P9 mouth and chin.
PATCH_NAMES: tuple[str, ...] = (
    "P1 R brow",
    "P2 L brow",
    "P3 R eye",
    "P4 nose root",
    "P5 L eye",
    "P6 R cheek",
    "P7 nose/lip",
    "P8 L cheek",
    "P9 mouth",
)


def _mean_attention(model: Any, patches: np.ndarray, batch_size: int) -> np.ndarray:
    rows = []
    for start in range(0, len(patches), batch_size):
        outputs = model({"patches": patches[start : start + batch_size]}, training=False)
        if "patch_attention" not in outputs:
            raise ValueError(
                "Every model must output 'patch_attention' (a tfau PAttNet). Received "
                f"outputs of {model.name!r}: {sorted(outputs)}"
            )
        rows.append(np.asarray(outputs["patch_attention"], np.float64))
    return np.concatenate(rows).mean(axis=0)


def patch_attention_matrix(
    models: Mapping[int, Any] | Sequence[Mapping[int, Any]],
    patches: Any,
    batch_size: int = 32,
) -> tuple[tuple[int, ...], np.ndarray]:
    """The AU x patch matrix: each AU's model's mean patch weights over ``patches``.

    Args:
        models: ``{au: model}`` (`tfau.models.PAttNetPerAU`), or one such dict per training
            fold (same AUs), whose matrices are averaged as in the paper.
        patches: ``(num_faces, 9, h, w, 3)`` network inputs (the pipeline's patches).
        batch_size: faces per forward pass. Defaults to 32.

    Returns:
        ``(aus, matrix)``: the AUs (rows, in the dict's order) and the ``(A, num_patches)``
        float64 matrix of mean weights in [0, 1].

    Example:
        >>> folds = [tfau.models.PAttNetPerAU(aus) for _ in range(3)]  # trained per fold
        >>> aus, matrix = patch_attention_matrix(folds, patches)      # (12, 9)

    Reference:
        Onal Ertugrul, Jeni and Cohn, "PAttNet: Patch-attentive deep network for action unit
        detection", BMVC 2019, section 5.3 and Fig. 4.
    """
    folds = [models] if isinstance(models, Mapping) else list(models)
    if not folds or not all(isinstance(fold, Mapping) and fold for fold in folds):
        raise ValueError(
            "`models` must be a non-empty {au: model} dict or a list of such dicts (one per "
            f"fold). Received: {models!r}"
        )
    aus = tuple(int(au) for au in folds[0])
    for fold in folds[1:]:
        if tuple(int(au) for au in fold) != aus:
            raise ValueError(
                f"Every fold must hold the same AUs. Received: {list(aus)} and {list(fold)}"
            )
    patches = np.asarray(patches, np.float32)
    if patches.ndim != 5 or len(patches) == 0:
        raise ValueError(
            "`patches` must be (num_faces, num_patches, height, width, channels) with at "
            f"least one face. Received: shape={patches.shape}"
        )
    matrices = [
        np.stack([_mean_attention(fold[au], patches, batch_size) for au in aus]) for fold in folds
    ]
    return aus, np.mean(matrices, axis=0)


def plot_patch_attention(
    path: str | os.PathLike,
    matrix: Any,
    aus: Sequence[int | str],
    patch_names: Sequence[str] | None = None,
    title: str | None = "PAttNet attention (Fig. 4)",
) -> str:
    """PAttNet Fig. 4: the AU x patch attention matrix, white 0 to black 1.

    Args:
        path: PNG file to write.
        matrix: ``(A, num_patches)`` weights in [0, 1].
        aus: AU of each row.
        patch_names: column labels (default: `PATCH_NAMES` for nine patches, else P1...).
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> aus, matrix = patch_attention_matrix(models, patches)
        >>> plot_patch_attention("pattnet_attention.png", matrix, aus)

    Reference:
        Onal Ertugrul, Jeni and Cohn, BMVC 2019, Fig. 4.
    """
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != len(aus):
        raise ValueError(
            f"`matrix` must be ({len(aus)}, num_patches) for aus={list(aus)}. "
            f"Received: shape={matrix.shape}"
        )
    num_patches = matrix.shape[1]
    if patch_names is None:
        patch_names = PATCH_NAMES if num_patches == 9 else [f"P{i + 1}" for i in range(num_patches)]
    if len(patch_names) != num_patches:
        raise ValueError(
            f"`patch_names` must name the {num_patches} patches. Received: {list(patch_names)}"
        )
    figure = new_figure(0.55 * num_patches + 2.4, 0.4 * len(aus) + 1.8)
    ax = figure.subplots()
    shown = ax.imshow(matrix, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(num_patches), list(patch_names), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(aus)), [au_label(au) for au in aus], fontsize=8)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=6,
            color="white" if value > 0.5 else "black",
        )
    figure.colorbar(shown, ax=ax, fraction=0.046, label="attention weight")
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return save(figure, path)
