"""Where a network looks: DRML-style gradient saliency and AUNets-style occlusion maps.

- `saliency_maps`: ``|d p_au / d image|``, the maximum over colour channels, per pixel
  (DRML Fig. 4: "the magnitude of per-pixel gradients with respect to a particular AU").
- `occlusion_drops` / `occlusion_heatmap`: slide a grey patch over the face and record how
  much each AU's probability drops (Zeiler and Fergus' occlusion, AUNets Fig. 5).
- `plot_saliency`, `plot_occlusion`: the maps over the faces, one column per AU.

The models are any tfau network called on a dict of named inputs with an ``"au"`` output;
only the image input (``image_key``) is differentiated or occluded, the others (e.g.
``"landmarks"``) are passed through unchanged.

Example:
    >>> model = tfau.models.DRML(input_shape=(32, 32, 3), num_aus=3, width=0.125)
    >>> maps = saliency_maps(model, {"image": faces})          # (B, 32, 32, 3)
    >>> plot_saliency("saliency.png", faces[0], maps[0], aus=(1, 2, 4))
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfau.plots._figure import au_label, display_image, face_map_grid, save


def _batched_inputs(
    inputs: Mapping[str, Any], image_key: str
) -> tuple[dict[str, np.ndarray], bool]:
    """Float32 numpy inputs with a batch axis; whether they had none (one example)."""
    if image_key not in inputs:
        raise ValueError(
            f"`inputs` must hold the image under {image_key!r}. Received keys: {sorted(inputs)}"
        )
    arrays = {key: np.asarray(value, np.float32) for key, value in inputs.items()}
    one_example = arrays[image_key].ndim == 3
    if one_example:
        arrays = {key: value[None] for key, value in arrays.items()}
    if arrays[image_key].ndim != 4:
        raise ValueError(
            f"`inputs[{image_key!r}]` must be (batch, height, width, channels) or one "
            f"(height, width, channels) image. Received: shape={arrays[image_key].shape}"
        )
    return arrays, one_example


def _au_columns(num_aus: int, au_indices: Sequence[int] | None) -> list[int]:
    columns = list(range(num_aus)) if au_indices is None else [int(i) for i in au_indices]
    bad = [i for i in columns if not 0 <= i < num_aus]
    if bad or not columns:
        raise ValueError(
            f"`au_indices` must be non-empty column indices in [0, {num_aus}). "
            f"Received: au_indices={au_indices!r}"
        )
    return columns


def _probabilities(model: Any, inputs: Mapping[str, Any], output_key: str) -> Any:
    outputs = model(dict(inputs), training=False)
    if not isinstance(outputs, Mapping) or output_key not in outputs:
        found = sorted(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__
        raise ValueError(
            f"The model must return a dict with {output_key!r} (batch, num_aus). Received: {found}"
        )
    return outputs[output_key]


def saliency_maps(
    model: Any,
    inputs: Mapping[str, Any],
    au_indices: Sequence[int] | None = None,
    image_key: str = "image",
    output_key: str = "au",
) -> np.ndarray:
    """DRML's saliency: the gradient magnitude of each AU's probability per pixel.

    ``S[b, y, x, k] = max_c |d p[b, au_k] / d image[b, y, x, c]|`` with the model in
    inference mode (examples of a batch are independent, so one gradient of the batch sum
    per AU gives every example's map).

    Args:
        model: a network taking a dict of named inputs and returning ``{"au": (B, A)}``.
        inputs: the model's inputs; ``inputs[image_key]`` is ``(B, H, W, C)`` or one
            ``(H, W, C)`` image (then every input lacks the batch axis).
        au_indices: output columns to explain (default: all), in this order.
        image_key: name of the image input. Defaults to ``"image"``.
        output_key: name of the probability output. Defaults to ``"au"``.

    Returns:
        ``(B, H, W, len(au_indices))`` float32 (no batch axis for one image).

    Example:
        >>> saliency_maps(model, {"image": faces}, au_indices=[0, 2]).shape
        (4, 170, 170, 2)

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, section 3.2 and Fig. 4.
    """
    arrays, one_example = _batched_inputs(inputs, image_key)
    tensors = {key: tf.constant(value) for key, value in arrays.items()}
    image = tensors[image_key]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(image)
        probabilities = _probabilities(model, tensors, output_key)
        columns = _au_columns(int(probabilities.shape[-1]), au_indices)
        sums = [tf.reduce_sum(probabilities[:, column]) for column in columns]
    gradients = [tape.gradient(total, image) for total in sums]
    del tape
    maps = np.stack(
        [np.abs(gradient.numpy()).max(axis=-1) for gradient in gradients], axis=-1
    ).astype(np.float32)
    return maps[0] if one_example else maps


def occlusion_positions(size: int, patch_size: int, stride: int) -> np.ndarray:
    """Top-left offsets of the patch along one side: every ``stride``, the last at the edge.

    Example:
        >>> occlusion_positions(10, 4, 3).tolist()
        [0, 3, 6]
    """
    if patch_size < 1 or patch_size > size:
        raise ValueError(
            f"`patch_size` must be in [1, {size}] (the image side). "
            f"Received: patch_size={patch_size}"
        )
    if stride < 1:
        raise ValueError(f"`stride` must be a positive integer. Received: stride={stride}")
    positions = list(range(0, size - patch_size + 1, stride))
    if positions[-1] != size - patch_size:
        positions.append(size - patch_size)
    return np.asarray(positions, np.int64)


def occlusion_drops(
    model: Any,
    inputs: Mapping[str, Any],
    patch_size: int,
    stride: int,
    fill: float | Sequence[float] | None = None,
    au_indices: Sequence[int] | None = None,
    batch_size: int = 32,
    image_key: str = "image",
    output_key: str = "au",
) -> np.ndarray:
    """Drop of each AU's probability when a grey square hides each part of one face.

    ``D[i, j, k] = p_k(image) - p_k(image with rows ys[i]:ys[i]+s, columns xs[j]:xs[j]+s
    set to fill)``, for ``ys, xs = occlusion_positions(...)``; the occluded images go
    through the model ``batch_size`` at a time.

    Args:
        model: a network taking a dict of named inputs and returning ``{"au": (B, A)}``.
        inputs: ONE example's inputs, ``inputs[image_key]`` of shape ``(H, W, C)``.
        patch_size: side ``s`` of the square patch in pixels.
        stride: step between patch positions in pixels.
        fill: value of the patch in the model's input range, a scalar or one per channel;
            None: the image's mean colour (the grey of Zeiler and Fergus for a normalised
            image).
        au_indices: output columns (default: all).
        batch_size: occluded images per forward pass. Defaults to 32.
        image_key: name of the image input. Defaults to ``"image"``.
        output_key: name of the probability output. Defaults to ``"au"``.

    Returns:
        ``(len(ys), len(xs), len(au_indices))`` float32; positive where hiding the patch
        lowers the AU's probability.

    Example:
        >>> occlusion_drops(model, {"image": face}, patch_size=16, stride=8).shape
        (20, 20, 12)

    Reference:
        Romero, Leon and Arbelaez, "Multi-View Dynamic Facial Action Unit Detection", Image
        and Vision Computing 2018 (AUNets), section 4.3 and Fig. 5; Zeiler and Fergus,
        "Visualizing and Understanding Convolutional Networks", ECCV 2014.
    """
    arrays, one_example = _batched_inputs(inputs, image_key)
    if not one_example:
        raise ValueError(
            f"`occlusion_drops` explains one example: `inputs[{image_key!r}]` must be "
            f"(height, width, channels). Received: shape={arrays[image_key].shape}"
        )
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size}")
    image = arrays[image_key][0]
    height, width, channels = image.shape
    ys = occlusion_positions(height, patch_size, stride)
    xs = occlusion_positions(width, patch_size, stride)
    fill_value = image.mean(axis=(0, 1)) if fill is None else np.asarray(fill, np.float32)
    fill_value = np.broadcast_to(fill_value, (channels,)).astype(np.float32)

    reference = np.asarray(_probabilities(model, arrays, output_key))[0]
    columns = _au_columns(reference.shape[-1], au_indices)
    offsets = [(y, x) for y in ys for x in xs]
    probabilities = []
    for start in range(0, len(offsets), batch_size):
        chunk = offsets[start : start + batch_size]
        batch = {key: np.repeat(value, len(chunk), axis=0) for key, value in arrays.items()}
        occluded = batch[image_key]
        for index, (y, x) in enumerate(chunk):
            occluded[index, y : y + patch_size, x : x + patch_size] = fill_value
        probabilities.append(np.asarray(_probabilities(model, batch, output_key)))
    probabilities = np.concatenate(probabilities)[:, columns]
    drops = reference[columns] - probabilities
    return drops.reshape(len(ys), len(xs), len(columns)).astype(np.float32)


def occlusion_heatmap(
    drops: Any, image_size: Sequence[int], patch_size: int, stride: int
) -> np.ndarray:
    """Per-pixel map: the mean drop over every patch position that hid the pixel.

    Args:
        drops: `occlusion_drops`'s ``(ny, nx, A)`` grid.
        image_size: ``(height, width)`` of the occluded image.
        patch_size: the patch side used for ``drops``.
        stride: the stride used for ``drops``.

    Returns:
        ``(height, width, A)`` float32.

    Example:
        >>> occlusion_heatmap(drops, (64, 64), patch_size=16, stride=8).shape
        (64, 64, 12)
    """
    drops = np.asarray(drops, np.float64)
    height, width = (int(v) for v in image_size)
    ys = occlusion_positions(height, patch_size, stride)
    xs = occlusion_positions(width, patch_size, stride)
    if drops.ndim != 3 or drops.shape[:2] != (len(ys), len(xs)):
        raise ValueError(
            f"`drops` must be ({len(ys)}, {len(xs)}, num_aus) for a {height} x {width} image, "
            f"patch_size={patch_size} and stride={stride}. Received: shape={drops.shape}"
        )
    total = np.zeros((height, width, drops.shape[-1]))
    count = np.zeros((height, width, 1))
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            total[y : y + patch_size, x : x + patch_size] += drops[i, j]
            count[y : y + patch_size, x : x + patch_size] += 1
    return (total / count).astype(np.float32)


def _faces_per_au(images: Any, num_aus: int) -> list[np.ndarray]:
    images = np.asarray(images)
    if images.ndim == 3:
        return [display_image(images)] * num_aus
    if images.ndim == 4 and len(images) == num_aus:
        return [display_image(image) for image in images]
    raise ValueError(
        f"`images` must be one (H, W, C) face or one face per AU ({num_aus}, H, W, C). "
        f"Received: shape={images.shape}"
    )


def _check_maps(maps: Any, aus: Sequence[int], name: str) -> np.ndarray:
    maps = np.asarray(maps, np.float64)
    if maps.ndim != 3 or maps.shape[-1] != len(aus):
        raise ValueError(
            f"`{name}` must be (H, W, {len(aus)}) for aus={list(aus)}. Received: shape={maps.shape}"
        )
    return maps


def plot_saliency(
    path: str | os.PathLike,
    images: Any,
    saliency: Any,
    aus: Sequence[int | str],
    title: str | None = "Saliency |dp/dx| (DRML Fig. 4)",
) -> str:
    """DRML Fig. 4: the faces (top row) and each AU's saliency map over them.

    Each AU's map is divided by its own maximum, so colours show where, not how much.

    Args:
        path: PNG file to write.
        images: one ``(H, W, C)`` face, or one face per AU ``(A, H, W, C)`` (any value range).
        saliency: ``(H, W, A)`` maps of `saliency_maps` (one face's).
        aus: AU of each map column.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> maps = saliency_maps(model, {"image": face})          # (H, W, A)
        >>> plot_saliency("saliency.png", face, maps, aus=(1, 2, 4))

    Reference:
        Zhao, Chu and Zhang, "Deep Region and Multi-label Learning for Facial Action Unit
        Detection", CVPR 2016, Fig. 4.
    """
    maps = _check_maps(saliency, aus, "saliency")
    peak = maps.max(axis=(0, 1), keepdims=True)
    maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    figure = face_map_grid(
        _faces_per_au(images, len(aus)),
        [maps],
        ["saliency"],
        [au_label(au) for au in aus],
        show_faces_row=True,
        colorbar_label="gradient magnitude / max",
        title=title,
    )
    return save(figure, path)


def plot_occlusion(
    path: str | os.PathLike,
    images: Any,
    heatmap: Any,
    aus: Sequence[int | str],
    title: str | None = "Occlusion: drop in p(AU) (AUNets Fig. 5)",
) -> str:
    """AUNets Fig. 5: the faces and, per AU, where hiding the face lowers p(AU) (red).

    The colour scale is symmetric, ``[-m, m]`` with ``m`` the largest absolute drop, so
    blue marks regions whose occlusion raises the probability.

    Args:
        path: PNG file to write.
        images: one ``(H, W, C)`` face, or one face per AU ``(A, H, W, C)``.
        heatmap: ``(H, W, A)`` maps of `occlusion_heatmap` (or a coarser grid of drops).
        aus: AU of each map column.
        title: figure title.

    Returns:
        ``path``.

    Example:
        >>> drops = occlusion_drops(model, {"image": face}, patch_size=16, stride=8)
        >>> heat = occlusion_heatmap(drops, face.shape[:2], patch_size=16, stride=8)
        >>> plot_occlusion("occlusion.png", face, heat, aus=(1, 2, 4))

    Reference:
        Romero, Leon and Arbelaez, "Multi-View Dynamic Facial Action Unit Detection", Image
        and Vision Computing 2018 (AUNets), Fig. 5.
    """
    maps = _check_maps(heatmap, aus, "heatmap")
    limit = float(np.nanmax(np.abs(maps))) or 1.0
    figure = face_map_grid(
        _faces_per_au(images, len(aus)),
        [maps],
        ["occlusion"],
        [au_label(au) for au in aus],
        show_faces_row=True,
        vmin=-limit,
        vmax=limit,
        colorbar_label="p(AU) - p(AU | occluded)",
        title=title,
    )
    return save(figure, path)
