"""JAA-Net's similarity alignment from 5 key points as TensorFlow graph ops (batched).

The TF twin of ``tfau.faces.alignment`` (same constants, same transform), for graphs that must
run without OpenCV or numpy, such as an exported SavedModel: `similarity_from_keypoints_tf`
computes the ``(2, 3)`` frame-to-face matrices of a batch of faces and `warp_affine_tf` applies
them with bilinear sampling and a constant (grey) border, like ``cv2.warpAffine``.

Reference:
    Shao et al., "Deep Adaptive Attention for Joint Facial Action Unit Detection and Face
    Alignment", ECCV 2018 (Sec. 4.1, implementation details).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfau.faces.alignment import DEFAULT_BORDER_VALUE, DEFAULT_BOX_ENLARGE, DEFAULT_OUTPUT_SIZE


def similarity_from_keypoints_tf(
    keypoints: Any,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    box_enlarge: float = DEFAULT_BOX_ENLARGE,
) -> tf.Tensor:
    """JAA-Net's alignment matrices from five key points, in the TF graph.

    Same transform as `tfau.faces.similarity_from_keypoints` (rotate the eyes level, centre a
    square box ``box_enlarge`` times the larger side of the key points' bounding box, scale it
    to ``output_size``), for any leading batch shape. Degenerate key points (coinciding eyes)
    give non-finite matrices instead of an error, as graph code cannot raise per example.

    Args:
        keypoints: ``(..., 5, 2)`` (x, y) pixels in ``KEYPOINT_NAMES`` order.
        output_size: side of the aligned square image. Defaults to 200.
        box_enlarge: face box over the key points' extent. Defaults to 2.9.

    Returns:
        float32 ``(..., 2, 3)`` matrices mapping frame pixels to aligned pixels.

    Example:
        >>> similarity_from_keypoints_tf(tf.zeros((4, 5, 2)) + keypoints).shape
        TensorShape([4, 2, 3])
    """
    if output_size < 2:
        raise ValueError(f"`output_size` must be >= 2. Received: output_size={output_size}")
    if box_enlarge <= 0:
        raise ValueError(f"`box_enlarge` must be > 0. Received: box_enlarge={box_enlarge}")
    points = tf.convert_to_tensor(keypoints, tf.float32)
    if points.shape.rank is not None and (points.shape.rank < 2 or points.shape[-2:] != (5, 2)):
        raise ValueError(
            "Expected 5 key points (eyes, nose tip, mouth corners) of shape (..., 5, 2). "
            f"Received: shape={tuple(points.shape)}"
        )
    eye_vector = points[..., 1, :] - points[..., 0, :]
    eye_distance = tf.norm(eye_vector, axis=-1, keepdims=True)
    cos_sin = eye_vector / eye_distance
    cos, sin = cos_sin[..., 0], cos_sin[..., 1]
    # Rows of the rotation that takes the eye vector to the +x axis.
    rotation = tf.stack(
        [tf.stack([cos, sin], axis=-1), tf.stack([-sin, cos], axis=-1)], axis=-2
    )  # (..., 2, 2)
    rotated = tf.linalg.matmul(points, rotation, transpose_b=True)
    low = tf.reduce_min(rotated, axis=-2)
    high = tf.reduce_max(rotated, axis=-2)
    half_side = 0.5 * box_enlarge * tf.reduce_max(high - low, axis=-1)
    scale = ((output_size - 1) / 2.0 / half_side)[..., None]
    translation = (output_size - 1) / 2.0 - scale * (low + high) / 2.0
    return tf.concat([scale[..., None] * rotation, translation[..., None]], axis=-1)


def invert_transform_tf(matrices: Any) -> tf.Tensor:
    """The ``(..., 2, 3)`` inverses of affine matrices (TF twin of `invert_transform`)."""
    matrices = tf.convert_to_tensor(matrices, tf.float32)
    linear, shift = matrices[..., :2], matrices[..., 2:]
    inverse = tf.linalg.inv(linear)
    return tf.concat([inverse, -tf.linalg.matmul(inverse, shift)], axis=-1)


def transform_points_tf(points: Any, matrices: Any) -> tf.Tensor:
    """Applies ``(..., 2, 3)`` matrices to ``(..., N, 2)`` points (TF twin of
    `transform_points`)."""
    points = tf.convert_to_tensor(points, tf.float32)
    matrices = tf.convert_to_tensor(matrices, tf.float32)
    return tf.linalg.matmul(points, matrices[..., :2], transpose_b=True) + matrices[..., None, :, 2]


def warp_affine_tf(
    images: Any,
    matrices: Any,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    border_value: float = DEFAULT_BORDER_VALUE,
) -> tf.Tensor:
    """Warps a batch of images with forward affine matrices, like ``cv2.warpAffine``.

    Output pixel ``(x, y)`` samples the input bilinearly at ``M^-1 (x, y)`` (integer pixel
    centres, as OpenCV); samples outside the frame take ``border_value``.

    Args:
        images: ``(B, H, W, C)`` uint8 or float.
        matrices: ``(B, 2, 3)`` matrices mapping input pixels to output pixels.
        output_size: side of the square output. Defaults to 200.
        border_value: fill outside the frame. Defaults to 128 (grey).

    Returns:
        float32 ``(B, output_size, output_size, C)`` (not rounded).

    Example:
        >>> faces = warp_affine_tf(frames, similarity_from_keypoints_tf(keypoints))
    """
    images = tf.cast(tf.convert_to_tensor(images), tf.float32)
    if images.shape.rank is not None and images.shape.rank != 4:
        raise ValueError(
            "Expected a batch of images (batch, height, width, channels). "
            f"Received: shape={tuple(images.shape)}"
        )
    inverse = invert_transform_tf(matrices)
    batch = tf.shape(inverse)[0]
    # ImageProjectiveTransformV3 takes the output -> input map as 8 projective coefficients.
    transforms = tf.concat(
        [tf.reshape(inverse, [batch, 6]), tf.zeros([batch, 2], tf.float32)], axis=-1
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.constant([output_size, output_size], tf.int32),
        fill_value=tf.constant(border_value, tf.float32),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
