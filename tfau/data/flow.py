"""AUNets' optical-flow input: OpenCV DIS flow between consecutive frames, as an image.

AUNets feeds a dense flow field to VGG-16 as a 3-channel image: x and y normalised by the l2
norm of the flow vector, the magnitude in the third channel (paper section 4.1.5, after
Gkioxari and Malik / Peng et al.). tfau computes the flow with OpenCV's DIS (MEDIUM preset,
0.3-3 ms per 224 px pair on this project's CPUs; the paper used Brox's GPU flow, hours per
dataset) inside ``tf.data`` through ``tf.numpy_function``, so no flow is stored.

The flow image, 0-255 like the RGB frame so that both take the same preprocessing:

- R, G: ``127.5 * (1 + x / ||v||)``, ``127.5 * (1 + y / ||v||)``, the direction of the pixel's
  motion ``v = (x, y)`` (mid-grey where ``||v|| < eps``);
- B: ``255 * min(||v|| / max_magnitude, 1)``; ``max_magnitude=None`` uses the field's own
  maximum (the min-max scaling that writing a float field to an image file applies).

Pairs of frames: the ``synth_au`` ``*_pairs`` configs store ``previous_image`` (cropped with
the current frame's transform, so the flow holds no face-box jitter). For data without it,
`previous_frame_pairs` pairs consecutive elements of a stream that is in frame order.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import cv2
import numpy as np
import tensorflow as tf

DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_FLOW_EPSILON = 1e-6
_local = threading.local()


def _dis(preset: str, shape: tuple[int, ...]) -> Any:
    # One DIS object per thread, preset and frame size: tf.data calls numpy functions from
    # several threads, and an OpenCV algorithm object is not safe to share between them; and
    # a DIS object that has run on frames of another size gives other flows from then on
    # (up to 0.11 px, OpenCV 4.14), so that a shared one would make each flow depend on the
    # sizes computed before it on that thread.
    cache = getattr(_local, "dis", None)
    if cache is None:
        cache = _local.dis = {}
    key = (preset, shape)
    if key not in cache:
        cache[key] = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return cache[key]


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"Expected an RGB image (height, width, 3). Received: shape={image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def dis_flow(previous: np.ndarray, current: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense optical flow from ``previous`` to ``current`` with OpenCV's DIS (numpy).

    Args:
        previous: ``(height, width, 3)`` RGB frame, uint8 (float is rounded to uint8).
        current: the next frame, same shape.
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"``. Defaults to ``"medium"``.

    Returns:
        float32 ``(height, width, 2)``: ``(dx, dy)`` in pixels, ``current(p + v) ~
        previous(p)``.

    Example:
        >>> dis_flow(frame0, frame1).shape
        (224, 224, 2)
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"`preset` must be one of {list(DIS_PRESETS)}. Received: {preset!r}")
    previous, current = _grey(previous), _grey(current)
    if previous.shape != current.shape:
        raise ValueError(
            "Both frames must have the same size. Received: "
            f"previous {previous.shape}, current {current.shape}"
        )
    return _dis(preset, current.shape).calc(previous, current, None).astype(np.float32)


def dis_flow_batch(previous: np.ndarray, current: np.ndarray, preset: str = "medium") -> np.ndarray:
    """`dis_flow` of each pair of two batches (numpy), e.g. what a served export's
    ``"flow_frames"`` signature returns.

    Args:
        previous: ``(batch, height, width, 3)`` RGB frames.
        current: the next frames, same shape.
        preset: DIS preset. Defaults to ``"medium"``.

    Returns:
        float32 ``(batch, height, width, 2)``.
    """
    previous, current = np.asarray(previous), np.asarray(current)
    if previous.ndim != 4 or previous.shape != current.shape:
        raise ValueError(
            "Expected two batches of RGB frames of one shape (batch, height, width, 3). "
            f"Received: previous {previous.shape}, current {current.shape}"
        )
    flows = [
        dis_flow(before, after, preset) for before, after in zip(previous, current, strict=True)
    ]
    return np.stack(flows) if flows else np.zeros((0, *current.shape[1:3], 2), np.float32)


def optical_flow(previous: Any, current: Any, preset: str = "medium") -> tf.Tensor:
    """`dis_flow` as a TF op (``tf.numpy_function``), usable in ``Dataset.map``.

    Args:
        previous: ``(height, width, 3)`` RGB frame tensor (uint8 or float 0-255).
        current: the next frame.
        preset: DIS preset. Defaults to ``"medium"``.

    Returns:
        float32 ``(height, width, 2)``.
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"`preset` must be one of {list(DIS_PRESETS)}. Received: {preset!r}")
    previous = tf.convert_to_tensor(previous)
    current = tf.convert_to_tensor(current)
    flow = tf.numpy_function(
        functools.partial(dis_flow, preset=preset),
        [previous, current],
        tf.float32,
        stateful=False,
        name="dis_flow",
    )
    flow.set_shape(current.shape[:2].concatenate([2]))
    return flow


def flow_to_image(flow: Any, max_magnitude: float | None = None) -> tf.Tensor:
    """AUNets' 3-channel flow image in 0-255 (see the module docstring), TF graph op.

    Args:
        flow: ``(..., height, width, 2)`` flow in pixels.
        max_magnitude: magnitude shown as 255; None: the maximum of each field.

    Returns:
        float32 ``(..., height, width, 3)`` in [0, 255].

    Example:
        >>> flow_to_image(tf.constant([[[3.0, 4.0]]]))  # [[[204., 229.5, 255.]]]
    """
    flow = tf.convert_to_tensor(flow, tf.float32)
    if flow.shape.rank is None or flow.shape.rank < 3 or flow.shape[-1] != 2:
        raise ValueError(
            f"`flow` must have shape (..., height, width, 2). Received: shape={flow.shape}"
        )
    if max_magnitude is not None and not max_magnitude > 0:
        raise ValueError(f"`max_magnitude` must be > 0. Received: max_magnitude={max_magnitude}")
    magnitude = tf.norm(flow, axis=-1, keepdims=True)
    direction = tf.math.divide_no_nan(flow, magnitude)
    direction = tf.where(magnitude < _FLOW_EPSILON, 0.0, direction)
    if max_magnitude is None:
        scale = tf.reduce_max(magnitude, axis=[-3, -2, -1], keepdims=True)
    else:
        scale = tf.constant(max_magnitude, tf.float32)
    level = tf.minimum(tf.math.divide_no_nan(magnitude, scale), 1.0)
    return tf.concat([127.5 * (1.0 + direction), 255.0 * level], axis=-1)


def flow_image(
    previous: Any, current: Any, preset: str = "medium", max_magnitude: float | None = None
) -> tf.Tensor:
    """`optical_flow` then `flow_to_image`: the AUNets flow input of one frame (0-255).

    Example:
        >>> flow_image(previous_face, face).shape
        TensorShape([224, 224, 3])
    """
    return flow_to_image(optical_flow(previous, current, preset), max_magnitude)


def previous_frame_pairs(
    dataset: tf.data.Dataset, image_key: str = "image", max_gap: int = 1
) -> tf.data.Dataset:
    """Adds ``previous_image`` / ``has_previous`` by pairing consecutive elements.

    For data without a stored previous frame (builds other than the ``*_pairs`` configs, or
    one video read frame by frame). The stream must be in frame order within each sequence
    (TFDS shuffles examples when it writes a split, so a TFDS split is generally *not*: read
    one sequence at a time, or use a build that stores ``previous_image``). An element is
    paired with the element before it when both have the same ``sequence`` (and ``view``,
    if present) and ``0 < frame - previous frame <= max_gap``; otherwise ``has_previous`` is
    False and ``previous_image`` repeats the frame (zero flow), as the ``*_pairs`` builders
    do on a sequence's first frame. Sequential (``Dataset.scan``); cheap, run it before decoding.

    Args:
        dataset: elements with ``image_key``, ``sequence`` and ``frame``.
        image_key: the image feature to pair. Defaults to ``"image"``.
        max_gap: largest frame-number step still treated as consecutive. Defaults to 1.

    Returns:
        The same elements with ``previous_image`` and ``has_previous`` added.
    """
    spec = dataset.element_spec
    for key in (image_key, "sequence", "frame"):
        if key not in spec:
            raise ValueError(
                f"`previous_frame_pairs` needs features {image_key!r}, 'sequence' and 'frame'. "
                f"Received features: {sorted(spec)}"
            )
    has_view = "view" in spec
    image_spec = spec[image_key]
    if image_spec.shape.is_fully_defined():
        empty_image = tf.zeros(image_spec.shape, image_spec.dtype)
    else:
        empty_image = tf.zeros([0] * image_spec.shape.rank, image_spec.dtype)
    initial = (
        tf.constant(""),
        tf.constant(-1, spec["frame"].dtype),
        tf.constant(-1, tf.int64),
        tf.constant(False),
        empty_image,
    )

    def step(state: Any, example: dict[str, Any]) -> Any:
        sequence, frame, view, valid, image = state
        current_view = tf.cast(example["view"], tf.int64) if has_view else tf.constant(-1, tf.int64)
        gap = example["frame"] - frame
        paired = (
            valid
            & tf.equal(sequence, example["sequence"])
            & tf.equal(view, current_view)
            & (gap > 0)
            & (gap <= max_gap)
        )
        previous = tf.cond(paired, lambda: image, lambda: example[image_key])
        output = dict(example)
        output["previous_image"] = tf.ensure_shape(previous, image_spec.shape)
        output["has_previous"] = paired
        new_state = (
            example["sequence"],
            example["frame"],
            current_view,
            tf.constant(True),
            tf.ensure_shape(example[image_key], image_spec.shape)
            if image_spec.shape.is_fully_defined()
            else example[image_key],
        )
        return new_state, output

    return dataset.scan(initial, step)
