"""Attention maps over the face: EAC-Net's landmark map, JAA-Net's initial and refined maps.

- `plot_attention_maps`: rows of per-AU maps over faces (the general figure).
- `plot_eacnet_attention`: EAC-Net's attention map from the landmarks (its Fig. 3: the 20 AU
  centres and their 11 x 11 windows on a 100 x 100 grid), or one map per AU.
- `jaanet_attention`: a JAA-Net's initial (predefined, from its own predicted landmarks) and
  refined maps; `plot_jaanet_attention` draws them as JAA-Net Fig. 4 (predefined row above
  the refined row, for each face).

Example:
    >>> initial, refined = jaanet_attention(model, {"image": faces})
    >>> plot_jaanet_attention("jaanet_attention.png", faces, initial, refined, aus)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfau.plots._figure import (
    add_side_colorbar,
    au_label,
    display_image,
    draw_map,
    new_figure,
    save,
)


def plot_attention_maps(
    path: str | os.PathLike,
    images: Any,
    maps: Any,
    aus: Sequence[int | str],
    row_names: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """Rows of attention maps over faces, one column per AU, colour scale [0, 1].

    Args:
        path: PNG file to write.
        images: the face under each row: ``(R, H, W, C)``, or one ``(H, W, C)`` face for
            every row (any value range; stretched for display).
        maps: ``(R, h, w, A)`` maps in [0, 1] (any resolution: stretched over the face), or
            ``(h, w, A)`` for one row.
        aus: AU of each map channel.
        row_names: label of each row (default ``"row 1"``, ...).
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> plot_attention_maps("att.png", face, maps[0], aus=(1, 2, 4))
    """
    maps = np.asarray(maps, np.float64)
    if maps.ndim == 3:
        maps = maps[None]
    if maps.ndim != 4 or maps.shape[-1] != len(aus):
        raise ValueError(
            f"`maps` must be (rows, h, w, {len(aus)}) or (h, w, {len(aus)}) for "
            f"aus={list(aus)}. Received: shape={maps.shape}"
        )
    images = np.asarray(images)
    if images.ndim == 3:
        images = np.broadcast_to(images, (len(maps), *images.shape))
    if images.ndim != 4 or len(images) != len(maps):
        raise ValueError(
            f"`images` must be one (H, W, C) face or one face per row ({len(maps)}, H, W, C). "
            f"Received: shape={images.shape}"
        )
    row_names = list(row_names or [f"row {i + 1}" for i in range(len(maps))])
    if len(row_names) != len(maps):
        raise ValueError(
            f"`row_names` must name the {len(maps)} rows. Received: {len(row_names)} names"
        )
    faces = [display_image(image) for image in images]
    figure = new_figure(1.5 * len(aus) + 1.9, 1.6 * len(maps) + 0.7)
    axes = figure.subplots(len(maps), len(aus), squeeze=False)
    shown = None
    for row, (face, row_maps, name) in enumerate(zip(faces, maps, row_names, strict=True)):
        for column, ax in enumerate(axes[row]):
            shown = draw_map(ax, face, row_maps[..., column])
            if row == 0:
                ax.set_title(au_label(aus[column]), fontsize=9)
        axes[row][0].set_ylabel(name, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    add_side_colorbar(figure, shown, "attention")
    return save(figure, path)


def plot_eacnet_attention(
    path: str | os.PathLike,
    image: Any,
    landmarks: Any,
    aus: Sequence[int] | None = None,
    title: str | None = None,
) -> str:
    """EAC-Net's attention map of one face (its Fig. 3), or one map per AU.

    The maps come from `tfau.faces.eacnet_attention_map` (20 AU centres, 11 x 11 windows
    with weight ``1 - 0.095 d``, on a 100 x 100 grid) and are stretched over the face. With
    ``aus=None`` the figure shows the face with its landmarks (blue) and the 20 AU centres
    (green) beside the single map, as the paper's figure does.

    Args:
        path: PNG file to write.
        image: ``(H, W, C)`` face the landmarks belong to.
        landmarks: ``(49, 2)`` (or 66 / 68) ``(x, y)`` pixels of ``image``.
        aus: None for the paper's single map, or AUs among ``tfau.faces.EACNET_AUS``.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> plot_eacnet_attention("eacnet.png", face, landmarks)            # Fig. 3
        >>> plot_eacnet_attention("eacnet_aus.png", face, landmarks, aus=(1, 12))

    Reference:
        Li, Abtahi, Zhu and Yin, "EAC-Net: Deep Nets with Enhancing and Cropping for Facial
        Action Unit Detection", IEEE TPAMI 2018, section III-B, Fig. 3 and eq. 1.
    """
    from tfau.faces import convert_landmarks, eacnet_attention_map, eacnet_roi_centres

    image = np.asarray(image)
    landmarks = np.asarray(landmarks, np.float32)
    if image.ndim != 3:
        raise ValueError(f"`image` must be one (H, W, C) face. Received: shape={image.shape}")
    size = image.shape[:2]
    if aus is not None:
        maps = np.asarray(eacnet_attention_map(landmarks, size, aus=aus))
        return plot_attention_maps(
            path, image, maps, aus, row_names=["EAC-Net"], title=title or "EAC-Net attention"
        )
    landmarks = np.asarray(convert_landmarks(landmarks, 49)) if len(landmarks) != 49 else landmarks
    attention = np.asarray(eacnet_attention_map(landmarks, size))[..., 0]
    centres = np.asarray(eacnet_roi_centres(landmarks))
    face = display_image(image)
    figure = new_figure(7.5, 3.6)
    left, right = figure.subplots(1, 2)
    left.imshow(face)
    left.scatter(landmarks[:, 0], landmarks[:, 1], s=6, c="tab:blue", label="landmarks")
    left.scatter(centres[:, 0], centres[:, 1], s=12, c="lime", label="AU centres")
    left.legend(loc="lower center", fontsize=7, ncol=2)
    left.set_xticks([])
    left.set_yticks([])
    shown = draw_map(right, face, attention)
    right.set_title("attention map", fontsize=9)
    figure.colorbar(shown, ax=right, fraction=0.046)
    figure.suptitle(title or "EAC-Net attention map (Fig. 3)", fontsize=10)
    return save(figure, path)


def jaanet_attention(model: Any, inputs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A JAA-Net's predefined (initial) and refined attention maps for some faces.

    The initial maps are eq. 3's maps around the AU centres of the network's OWN predicted
    landmarks (``"attention_initial"``, the refinement's input), the refined maps those
    that weight the local AU branches (``"attention"``).

    Args:
        model: a `tfau.models.JAANet` built with ``refinement=True``.
        inputs: ``{"image": (B, l, l, 3)}`` (or one ``(l, l, 3)`` image).

    Returns:
        ``(initial, refined)``, each ``(B, l/4, l/4, A)`` float32 (no batch axis for one
        image).

    Example:
        >>> initial, refined = jaanet_attention(model, {"image": faces})
        >>> initial.shape  # (B, 44, 44, 12) for the paper's 176 x 176 input

    Raises:
        ValueError: if the model has no ``"attention_initial"`` output (built without
            refinement: its only maps are the predefined ones).

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, section 3.3 and Fig. 4.
    """
    image = np.asarray(inputs["image"], np.float32)
    one_image = image.ndim == 3
    batch = {key: np.asarray(value, np.float32) for key, value in inputs.items()}
    if one_image:
        batch = {key: value[None] for key, value in batch.items()}
    outputs = model(batch, training=False)
    if "attention_initial" not in outputs or "attention" not in outputs:
        raise ValueError(
            "The model must output 'attention_initial' and 'attention' (a JAANet built with "
            f"refinement=True). Received outputs: {sorted(outputs)}"
        )
    initial = np.asarray(outputs["attention_initial"], np.float32)
    refined = np.asarray(outputs["attention"], np.float32)
    return (initial[0], refined[0]) if one_image else (initial, refined)


def plot_jaanet_attention(
    path: str | os.PathLike,
    images: Any,
    initial: Any,
    refined: Any,
    aus: Sequence[int],
    title: str | None = "JAA-Net attention: predefined vs refined (Fig. 4)",
) -> str:
    """JAA-Net Fig. 4: for each face, its predefined maps above its refined maps.

    Both rows share the [0, 1] colour scale; refined maps are clipped to it (a refined
    map is a sigmoid output, so it already lies there).

    Args:
        path: PNG file to write.
        images: ``(B, H, W, C)`` faces (or one ``(H, W, C)`` face).
        initial: ``(B, h, w, A)`` predefined maps (or ``(h, w, A)``).
        refined: ``(B, h, w, A)`` refined maps (or ``(h, w, A)``).
        aus: AU of each map channel.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> initial, refined = jaanet_attention(model, {"image": faces})
        >>> plot_jaanet_attention("jaanet.png", faces, initial, refined, aus=(1, 2, 4))

    Reference:
        Shao, Liu, Cai and Ma, "Deep Adaptive Attention for Joint Facial Action Unit Detection
        and Face Alignment", ECCV 2018, Fig. 4.
    """
    images = np.asarray(images)
    initial = np.asarray(initial, np.float32)
    refined = np.asarray(refined, np.float32)
    if images.ndim == 3:
        images, initial, refined = images[None], initial[None], refined[None]
    if initial.shape != refined.shape or len(initial) != len(images):
        raise ValueError(
            "`initial` and `refined` must have the same shape, one map set per image. "
            f"Received: images={images.shape}, initial={initial.shape}, refined={refined.shape}"
        )
    faces = np.repeat(images, 2, axis=0)
    maps = np.stack([initial, refined], axis=1).reshape(-1, *initial.shape[1:])
    names = []
    for index in range(len(images)):
        suffix = f" {index + 1}" if len(images) > 1 else ""
        names += [f"predefined{suffix}", f"refined{suffix}"]
    return plot_attention_maps(path, faces, np.clip(maps, 0, 1), aus, names, title)
