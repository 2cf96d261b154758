"""PAttNet's nine face patches, placed on the stored face by its eye centres.

PAttNet crops nine fixed 125 x 125 patches from a 3D-registered 512 x 512 face whose
inter-ocular distance is about 100 px, at the centres ``PATTNET_CENTRES_512`` (authors' code,
reference/implementations.md), and resizes each to 100 x 100. tfau's faces are 2D-aligned
(JAA-Net's similarity transform), so the template is moved onto each face by the similarity
that takes the template's eye centres to the face's own eye centres (``tfau.faces.eye_centres``):
patch centres ``c = m_face + s R (c_512 - m_512)`` and side ``125 s`` with
``s = IOD_face / 100``.

Why each face's own eyes and not the alignment's nominal scale: JAA-Net's box spans the eyes,
nose tip *and mouth corners*, so the eye distance in an aligned face changes with the mouth
(an open mouth makes the box taller and the face smaller); the registration PAttNet relies on
fixes the eyes, which is what placing the template by the eye centres reproduces.

The template's eye centres are not published. The patch layout is symmetric about
``x = 193.5`` (mean of the left and right columns 131 and 256) with the eye patches on row
``y = 160``, so the eyes are taken at ``(193.5 -+ 50, 160)``, 100 px apart as stated.
Patches are axis-aligned squares; only their centres follow the in-plane rotation (aligned
faces have level eyes, so this only matters for unaligned faces).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from tfau.faces import eye_centres

#: Patch centres (x, y) on PAttNet's 512 x 512 registered face: P1-P9 (brows, eyes and the
#: region between them, cheeks and lip corners, nose and upper mouth, mouth and chin).
PATTNET_CENTRES_512: tuple[tuple[float, float], ...] = (
    (131, 125),
    (256, 125),
    (131, 160),
    (193, 160),
    (256, 160),
    (131, 250),
    (193, 250),
    (256, 250),
    (193, 300),
)
#: Patch side and inter-ocular distance on the 512 template; output patch side.
PATTNET_PATCH_SIZE_512 = 125.0
PATTNET_IOD_512 = 100.0
PATTNET_OUTPUT_SIZE = 100
#: Template eye centres (left, right in the image), see the module docstring.
PATTNET_EYES_512: tuple[tuple[float, float], tuple[float, float]] = ((143.5, 160.0), (243.5, 160.0))
#: Grey outside the face image (the aligned faces' border value).
PATCH_BORDER_VALUE = 128.0


def patch_boxes_from_eyes(left: Any, right: Any) -> tf.Tensor:
    """Centres and side of the nine patches on a face with eye centres ``left`` and ``right``.

    Args:
        left: ``(..., 2)`` eye centre on the image's left, in the face's pixels.
        right: ``(..., 2)`` eye centre on the image's right.

    Returns:
        float32 ``(..., 9, 3)``: ``(centre_x, centre_y, side)`` of each patch in pixels.

    Example:
        >>> patch_boxes_from_eyes([143.5, 160.0], [243.5, 160.0])[0]  # the template itself
        ... # [131., 125., 125.]
    """
    left = tf.convert_to_tensor(left, tf.float32)
    right = tf.convert_to_tensor(right, tf.float32)
    template = tf.constant(PATTNET_CENTRES_512, tf.float32)
    template_mid = tf.reduce_mean(tf.constant(PATTNET_EYES_512, tf.float32), axis=0)
    eye_line = right - left
    scale = tf.norm(eye_line, axis=-1) / PATTNET_IOD_512
    angle = tf.atan2(eye_line[..., 1], eye_line[..., 0])
    cos, sin = tf.cos(angle)[..., None], tf.sin(angle)[..., None]
    offsets = template - template_mid  # (9, 2)
    rotated_x = cos * offsets[:, 0] - sin * offsets[:, 1]
    rotated_y = sin * offsets[:, 0] + cos * offsets[:, 1]
    mid = (left + right) / 2.0
    centres_x = mid[..., 0:1] + scale[..., None] * rotated_x
    centres_y = mid[..., 1:2] + scale[..., None] * rotated_y
    side = tf.broadcast_to(scale[..., None] * PATTNET_PATCH_SIZE_512, tf.shape(centres_x))
    return tf.stack([centres_x, centres_y, side], axis=-1)


def pattnet_patch_boxes(landmarks: Any) -> tf.Tensor:
    """`patch_boxes_from_eyes` at the landmarks' eye centres (``tfau.faces.eye_centres``).

    Args:
        landmarks: ``(..., num_points, 2)`` (49, 66 or 68 points) in the face's pixels.

    Returns:
        float32 ``(..., 9, 3)``: ``(centre_x, centre_y, side)`` of each patch in pixels.

    Example:
        >>> pattnet_patch_boxes(tf.zeros((8, 49, 2))).shape
        TensorShape([8, 9, 3])
    """
    left, right = eye_centres(tf.convert_to_tensor(landmarks, tf.float32))
    return patch_boxes_from_eyes(left, right)


def template_boxes(image_size: int) -> tf.Tensor:
    """The nine boxes of the 512 template scaled to a ``image_size`` face (no landmarks).

    Example:
        >>> template_boxes(512)[0]  # [131., 125., 125.]
    """
    eyes = np.asarray(PATTNET_EYES_512, np.float32) * (image_size / 512.0)
    return patch_boxes_from_eyes(eyes[0], eyes[1])


def crop_patches(image: Any, boxes: Any, output_size: int = PATTNET_OUTPUT_SIZE) -> tf.Tensor:
    """Cuts square patches (bilinear) out of one image and resizes them to ``output_size``.

    Patch ``p`` covers ``[c - side / 2, c + side / 2]`` in continuous pixel coordinates
    (pixel k spans ``[k - 0.5, k + 0.5]``); output pixel ``i`` samples
    ``c - side / 2 + (i + 0.5) side / output_size``. Outside the image: grey 128.

    Args:
        image: ``(height, width, channels)``, uint8 or float 0-255.
        boxes: ``(num_patches, 3)`` of ``(centre_x, centre_y, side)`` (`pattnet_patch_boxes`).
        output_size: side of each output patch. Defaults to 100.

    Returns:
        float32 ``(num_patches, output_size, output_size, channels)``.

    Example:
        >>> crop_patches(tf.zeros((200, 200, 3)), pattnet_patch_boxes(landmarks)).shape
        TensorShape([9, 100, 100, 3])
    """
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    if image.shape.rank != 3:
        raise ValueError(
            f"Expected one image (height, width, channels). Received: shape={tuple(image.shape)}"
        )
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    if boxes.shape.rank != 2 or boxes.shape[-1] != 3:
        raise ValueError(
            "`boxes` must have shape (num_patches, 3) of (centre_x, centre_y, side). "
            f"Received: shape={tuple(boxes.shape)}"
        )
    shape = tf.shape(image)
    centre_x, centre_y, side = boxes[:, 0], boxes[:, 1], boxes[:, 2]
    half = side / 2.0 - 0.5 * side / output_size
    rows = _sample_axis(centre_y - half, centre_y + half, shape[0], output_size)
    columns = _sample_axis(centre_x - half, centre_x + half, shape[1], output_size)
    # Bilinear as tf.image.crop_and_resize, written with gathers and blends: LiteRT has builtin
    # kernels for these and none for CropAndResize (tfau.export.litert).
    top = tf.gather(image, rows.low)
    bottom = tf.gather(image, rows.high)
    lines = top + (bottom - top) * rows.fraction[:, :, None, None]
    left = tf.gather(lines, columns.low, axis=2, batch_dims=1)
    right = tf.gather(lines, columns.high, axis=2, batch_dims=1)
    crops = left + (right - left) * columns.fraction[:, None, :, None]
    inside = rows.inside[:, :, None, None] & columns.inside[:, None, :, None]
    return tf.where(inside, crops, PATCH_BORDER_VALUE)


class _AxisSamples(NamedTuple):
    low: tf.Tensor
    high: tf.Tensor
    fraction: tf.Tensor
    inside: tf.Tensor


def _sample_axis(first: tf.Tensor, last: tf.Tensor, size: tf.Tensor, count: int) -> _AxisSamples:
    """``count`` positions from ``first`` to ``last`` (pixels, per box) along one image axis.

    A position outside ``[0, size - 1]`` is ``inside=False`` (the whole row or column is grey,
    as crop_and_resize's extrapolation); others interpolate pixels ``low`` and ``high``.
    """
    steps = tf.range(count, dtype=tf.float32)
    spacing = (last - first) / max(count - 1, 1)
    positions = first[:, None] + steps * spacing[:, None]
    limit = tf.cast(size - 1, tf.float32)
    inside = (positions >= 0.0) & (positions <= limit)
    low = tf.floor(positions)
    fraction = positions - low
    high = tf.math.ceil(positions)

    def index(values: tf.Tensor) -> tf.Tensor:
        return tf.cast(tf.clip_by_value(values, 0.0, limit), tf.int32)

    return _AxisSamples(index(low), index(high), fraction, inside)


def pattnet_patches(
    image: Any, landmarks: Any, output_size: int = PATTNET_OUTPUT_SIZE
) -> tf.Tensor:
    """PAttNet's nine patches of one face: `pattnet_patch_boxes` then `crop_patches`.

    Args:
        image: ``(height, width, 3)`` face, uint8 or float 0-255.
        landmarks: ``(num_points, 2)`` in the face's pixels.
        output_size: side of each patch. Defaults to 100.

    Returns:
        float32 ``(9, output_size, output_size, 3)`` in 0-255.

    Example:
        >>> pattnet_patches(face, landmarks).shape
        TensorShape([9, 100, 100, 3])

    Reference:
        Onal Ertugrul, Jeni, Ding and Cohn, "PAttNet: Patch-attentive deep network for action
        unit detection", BMVC 2019, section 3.2 and Fig. 2.
    """
    return crop_patches(image, pattnet_patch_boxes(landmarks), output_size)
