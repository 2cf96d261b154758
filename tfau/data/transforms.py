"""Per-example image and landmark transforms, usable eagerly and inside ``Dataset.map``.

Every function takes one example: an image ``(height, width, channels)`` (any channel count,
so an image and its previous frame stacked on channels move together) and, optionally, its
landmarks ``(num_points, 2)`` of ``(x, y)`` 0-based pixel coordinates (CONTRIBUTING.md). The
geometric transforms move the landmarks with the pixels; the horizontal flip also permutes them
(``tfau.faces.flip_landmarks``), so index i keeps naming the same anatomical point.

Randomness is stateless: a random transform takes a ``seed`` of shape ``(2,)`` (int32 or
int64), e.g. from `example_seed`, which derives one per example from a pipeline seed and the
element's index, so a pipeline gives the same stream for the same seed, whatever the
parallelism.

Value ranges (`normalize_image`):

- ``"mean"``: DRML's Caffe mean subtraction, ``x - mean`` (per channel, 0-255 scale);
- ``"symmetric"``: ``x / 127.5 - 1`` in [-1, 1], JAA-Net's range, and PAttNet's
  ``(x / 255 - 0.5) / 0.5`` (the same numbers);
- ``"caffe"``: VGG as the released VGG-16/19 weights expect (``keras.applications`` VGG
  ``preprocess_input``): RGB -> BGR, minus the ImageNet BGR mean (EAC-Net, AUNets);
- ``"unit"``: ``x / 255`` in [0, 1];
- ``"unit_imagenet_mean"``: ``x / 255 - (0.485, 0.456, 0.406)`` (RGB): torchvision's ImageNet
  mean with std 1, the test-time input of AUNets' released models (their ``data_loader.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfau.faces import flip_landmarks

#: ImageNet mean in BGR order, as subtracted by the VGG weights' Caffe preprocessing.
VGG_BGR_MEAN: tuple[float, float, float] = (103.939, 116.779, 123.68)
#: torchvision's ImageNet mean (RGB, 0-1 scale), which AUNets subtracts from ``x / 255``.
IMAGENET_RGB_MEAN_UNIT: tuple[float, float, float] = (0.485, 0.456, 0.406)
NORMALIZATIONS: tuple[str, ...] = ("mean", "symmetric", "caffe", "unit", "unit_imagenet_mean")


def example_seed(seed: int | tf.Tensor, index: int | tf.Tensor) -> tf.Tensor:
    """The stateless seed of one example: ``seed`` folded with the element ``index``.

    Args:
        seed: the pipeline seed (Python int or scalar tensor).
        index: the element's index in the stream (``Dataset.enumerate``).

    Returns:
        int64 tensor of shape ``(2,)`` for ``tf.random.stateless_*`` ops.

    Example:
        >>> example_seed(0, 3).shape
        TensorShape([2])
    """
    base = tf.stack([tf.cast(seed, tf.int64), tf.constant(0x7A3F, tf.int64)])
    return tf.random.experimental.stateless_fold_in(base, tf.cast(index, tf.int64))


def split_seed(seed: tf.Tensor, num: int) -> list[tf.Tensor]:
    """``num`` independent ``(2,)`` seeds from one (one per random op of an example)."""
    seeds = tf.random.experimental.stateless_split(seed, num=num)
    return [seeds[i] for i in range(num)]


def _image_size(image: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    if image.shape.rank is not None and image.shape.rank != 3:
        raise ValueError(
            "Expected one image of shape (height, width, channels). "
            f"Received: shape={tuple(image.shape)}"
        )
    shape = tf.shape(image)
    return shape[0], shape[1]


def _check_fits(size: int, height: Any, width: Any, what: str) -> None:
    static = [d for d in (height, width) if isinstance(d, int)]
    if static and min(static) < size:
        raise ValueError(
            f"The {what} size must not exceed the image. Received: size={size}, "
            f"image height={height}, width={width}"
        )


def _static_hw(image: tf.Tensor) -> tuple[int | None, int | None]:
    return image.shape[0], image.shape[1]


def crop(
    image: tf.Tensor,
    landmarks: tf.Tensor | None,
    offset_y: int | tf.Tensor,
    offset_x: int | tf.Tensor,
    size: int,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Cuts the ``size x size`` window at ``(offset_y, offset_x)``; landmarks move with it.

    Args:
        image: ``(height, width, channels)``.
        landmarks: ``(num_points, 2)`` in image pixels, or None.
        offset_y: top row of the window.
        offset_x: left column of the window.
        size: side of the window.

    Returns:
        ``(image, landmarks)``: ``(size, size, channels)`` and landmarks minus the offset.

    Example:
        >>> image, points = crop(tf.zeros((200, 200, 3)), tf.zeros((49, 2)), 15, 15, 170)
    """
    image = tf.convert_to_tensor(image)
    height, width = _image_size(image)
    _check_fits(size, *_static_hw(image), "crop")
    if None in _static_hw(image):
        # Decoded JPEG bytes have no static size: check when the example runs.
        check = tf.debugging.assert_greater_equal(
            tf.minimum(height, width),
            size,
            message=f"The crop size must not exceed the image. Received: size={size} and an "
            "image of height and width",
        )
        with tf.control_dependencies([check]):
            image = tf.identity(image)
    cropped = tf.image.crop_to_bounding_box(image, offset_y, offset_x, size, size)
    if landmarks is None:
        return cropped, None
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    offset = tf.cast(tf.stack([offset_x, offset_y]), tf.float32)
    return cropped, landmarks - offset


def centre_crop(
    image: tf.Tensor, landmarks: tf.Tensor | None, size: int
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The central ``size x size`` window (test time); offsets ``(height - size) // 2``.

    Example:
        >>> image, _ = centre_crop(tf.zeros((200, 200, 3)), None, 176)  # offset 12
    """
    image = tf.convert_to_tensor(image)
    height, width = _image_size(image)
    _check_fits(size, *_static_hw(image), "crop")
    return crop(image, landmarks, (height - size) // 2, (width - size) // 2, size)


def random_crop(
    image: tf.Tensor, landmarks: tf.Tensor | None, size: int, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """A ``size x size`` window at a uniformly random position (DRML 170, JAA-Net 176 of 200).

    Args:
        image: ``(height, width, channels)``.
        landmarks: ``(num_points, 2)`` or None.
        size: side of the window.
        seed: ``(2,)`` stateless seed.

    Returns:
        ``(image, landmarks)`` as `crop`.

    Example:
        >>> image, points = random_crop(image, points, 176, example_seed(0, 5))
    """
    image = tf.convert_to_tensor(image)
    height, width = _image_size(image)
    _check_fits(size, *_static_hw(image), "crop")
    limits = tf.cast(tf.stack([height - size + 1, width - size + 1]), tf.float32)
    offsets = tf.cast(tf.random.stateless_uniform([2], seed=seed) * limits, tf.int32)
    offsets = tf.minimum(offsets, tf.cast(limits, tf.int32) - 1)
    return crop(image, landmarks, offsets[0], offsets[1], size)


def flip_horizontal(
    image: tf.Tensor, landmarks: tf.Tensor | None
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Mirrors the image left-right; landmarks ``x' = width - 1 - x``, then permuted.

    Example:
        >>> image, points = flip_horizontal(image, points)  # points[19] is still the outer
        ... # corner of the image-left eye
    """
    image = tf.convert_to_tensor(image)
    _, width = _image_size(image)
    flipped = tf.reverse(image, axis=[1])
    if landmarks is None:
        return flipped, None
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    return flipped, flip_landmarks(landmarks, tf.cast(width, tf.float32))


def random_flip(
    image: tf.Tensor,
    landmarks: tf.Tensor | None,
    seed: tf.Tensor,
    probability: float = 0.5,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """`flip_horizontal` with probability ``probability`` (drawn from ``seed``).

    Example:
        >>> image, points = random_flip(image, points, example_seed(0, 5))
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"`probability` must be in [0, 1]. Received: probability={probability}")
    image = tf.convert_to_tensor(image)
    do_flip = tf.random.stateless_uniform([], seed=seed) < probability
    if landmarks is None:
        return tf.cond(do_flip, lambda: tf.reverse(image, axis=[1]), lambda: image), None
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    return tf.cond(
        do_flip,
        lambda: flip_horizontal(image, landmarks),
        lambda: (image, landmarks),
    )


def resize(
    image: tf.Tensor, landmarks: tf.Tensor | None, size: int | Sequence[int]
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Bilinear resize to ``size`` (int: square, or ``(height, width)``), float32 out.

    Landmarks follow the half-pixel convention of `tf.image.resize`:
    ``x' = (x + 0.5) * width' / width - 0.5``. A resize to the same size returns the image
    unchanged (as float32).

    Example:
        >>> image, points = resize(tf.zeros((200, 200, 3), tf.uint8), points, 224)
    """
    image = tf.convert_to_tensor(image)
    height, width = _image_size(image)
    new_h, new_w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(new_h, new_w) < 1:
        raise ValueError(f"`size` must be positive. Received: size={size}")
    static = _static_hw(image)
    if static == (new_h, new_w):
        resized = tf.cast(image, tf.float32)
    elif None in static:
        # Decoded JPEG bytes have no static size: skip the resampling when sizes agree.
        resized = tf.cond(
            tf.logical_and(tf.equal(height, new_h), tf.equal(width, new_w)),
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(tf.cast(image, tf.float32), (new_h, new_w)),
        )
        resized = tf.ensure_shape(resized, [new_h, new_w, image.shape[-1]])
    else:
        resized = tf.image.resize(tf.cast(image, tf.float32), (new_h, new_w), method="bilinear")
    if landmarks is None:
        return resized, None
    landmarks = tf.convert_to_tensor(landmarks, tf.float32)
    scale = tf.stack([new_w / tf.cast(width, tf.float32), new_h / tf.cast(height, tf.float32)])
    return resized, (landmarks + 0.5) * scale - 0.5


def normalize_image(
    image: tf.Tensor, mode: str, mean: Sequence[float] | tf.Tensor | None = None
) -> tf.Tensor:
    """Maps 0-255 pixels to a network's value range (see the module docstring).

    Args:
        image: ``(..., 3)`` RGB, uint8 or float in 0-255.
        mode: ``"mean"``, ``"symmetric"``, ``"caffe"``, ``"unit"`` or ``"unit_imagenet_mean"``.
        mean: ``"mean"`` only: the RGB mean to subtract (3 values, 0-255 scale).

    Returns:
        float32 image of the same shape.

    Example:
        >>> normalize_image(tf.fill((2, 2, 3), 255), "symmetric")[0, 0]  # [1., 1., 1.]
    """
    if mode not in NORMALIZATIONS:
        raise ValueError(f"`mode` must be one of {NORMALIZATIONS}. Received: mode={mode!r}")
    image = tf.cast(image, tf.float32)
    if image.shape.rank is not None and image.shape[-1] != 3:
        raise ValueError(f"Expected RGB images (..., 3). Received: shape={tuple(image.shape)}")
    if mode == "symmetric":
        return image / 127.5 - 1.0
    if mode == "unit":
        return image / 255.0
    if mode == "unit_imagenet_mean":
        return image / 255.0 - tf.constant(IMAGENET_RGB_MEAN_UNIT, tf.float32)
    if mode == "caffe":
        return tf.reverse(image, axis=[-1]) - tf.constant(VGG_BGR_MEAN, tf.float32)
    if mean is None:
        raise ValueError('`mode="mean"` needs `mean`, the RGB mean (3 values, 0-255 scale).')
    mean = tf.convert_to_tensor(mean, tf.float32)
    if mean.shape != (3,):
        raise ValueError(f"`mean` must hold 3 values (R, G, B). Received: shape={mean.shape}")
    return image - mean
