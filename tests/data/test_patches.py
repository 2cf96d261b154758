"""tfau.data.patches: PAttNet's template on the face, exact crops, eager == Dataset.map."""

import numpy as np
import pytest
import tensorflow as tf

from tfau.data import patches
from tfau.faces import LANDMARKS_49


def _landmarks_with_eyes(left, right):
    """49 points whose eye contours average to ``left`` and ``right``."""
    points = np.zeros((49, 2), np.float32)
    offsets = np.array([[-3, 0], [-1, -1], [1, -1], [3, 0], [1, 1], [-1, 1]], np.float32)
    points[list(LANDMARKS_49.region("left_eye"))] = np.asarray(left, np.float32) + offsets
    points[list(LANDMARKS_49.region("right_eye"))] = np.asarray(right, np.float32) + offsets
    return points


def test_template_eyes_give_the_papers_centres_and_size():
    boxes = patches.patch_boxes_from_eyes(*patches.PATTNET_EYES_512).numpy()
    np.testing.assert_allclose(boxes[:, :2], patches.PATTNET_CENTRES_512, atol=1e-4)
    np.testing.assert_allclose(boxes[:, 2], 125.0)
    np.testing.assert_allclose(patches.template_boxes(512).numpy(), boxes, atol=1e-4)


def test_boxes_scale_and_translate_with_the_eyes():
    # A 200 px face with eye centres 68 px apart: scale 0.68 about the eyes' midpoint.
    left, right = np.array([66.0, 80.0]), np.array([134.0, 80.0])
    boxes = patches.pattnet_patch_boxes(_landmarks_with_eyes(left, right)).numpy()
    template_mid = np.mean(patches.PATTNET_EYES_512, axis=0)
    expected = (np.asarray(patches.PATTNET_CENTRES_512) - template_mid) * 0.68 + [100.0, 80.0]
    np.testing.assert_allclose(boxes[:, :2], expected, atol=1e-3)
    np.testing.assert_allclose(boxes[:, 2], 125.0 * 0.68, rtol=1e-5)


def test_boxes_rotate_with_the_eye_line():
    # Eyes on a vertical line (90 degrees): a template offset (dx, dy) becomes (-dy, dx).
    boxes = patches.patch_boxes_from_eyes([100.0, 50.0], [100.0, 150.0]).numpy()
    offsets = np.asarray(patches.PATTNET_CENTRES_512) - np.mean(patches.PATTNET_EYES_512, axis=0)
    expected = np.stack([-offsets[:, 1], offsets[:, 0]], axis=-1) + np.array([100.0, 100.0])
    np.testing.assert_allclose(boxes[:, :2], expected, atol=1e-3)


def test_crop_equals_slicing_when_side_equals_output():
    image = np.random.default_rng(0).integers(0, 256, size=(40, 50, 3)).astype(np.float32)
    # side 10 centred between pixels 14 and 15 covers pixels 10..19 (continuous [9.5, 19.5]).
    boxes = np.array([[14.5, 20.5, 10.0], [30.5, 10.5, 10.0]], np.float32)
    out = patches.crop_patches(image, boxes, output_size=10).numpy()
    np.testing.assert_allclose(out[0], image[16:26, 10:20], atol=1e-3)
    np.testing.assert_allclose(out[1], image[6:16, 26:36], atol=1e-3)


def test_crop_downsamples_by_averaging_neighbours_and_pads_grey():
    image = np.random.default_rng(1).integers(0, 256, size=(30, 30, 3)).astype(np.float32)
    # side 20 -> 10: output pixel i samples 2i + 0.5 (mean of two pixels per axis).
    out = patches.crop_patches(image, [[14.5, 14.5, 20.0]], output_size=10).numpy()[0]
    block = image[5:25, 5:25].reshape(10, 2, 10, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out, block, atol=1e-3)
    outside = patches.crop_patches(image, [[-100.0, -100.0, 10.0]], output_size=4).numpy()
    np.testing.assert_allclose(outside, 128.0)


def _crop_and_resize(image, boxes, output_size):
    """What crop_patches computed with tf.image.crop_and_resize before LiteRT needed builtins."""
    height, width = image.shape[:2]
    half = boxes[:, 2] / 2 - 0.5 * boxes[:, 2] / output_size
    normalised = np.stack(
        [
            (boxes[:, 1] - half) / (height - 1),
            (boxes[:, 0] - half) / (width - 1),
            (boxes[:, 1] + half) / (height - 1),
            (boxes[:, 0] + half) / (width - 1),
        ],
        axis=-1,
    )
    return tf.image.crop_and_resize(
        image[None].astype(np.float32),
        normalised.astype(np.float32),
        np.zeros(len(boxes), np.int32),
        (output_size, output_size),
        extrapolation_value=128.0,
    ).numpy()


@pytest.mark.parametrize("output_size", [1, 7, 40])
def test_crop_equals_crop_and_resize(output_size):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(37, 53, 3)).astype(np.uint8)
    # Boxes inside, across every border, fully outside, up- and down-sampled.
    boxes = np.concatenate(
        [
            np.stack(
                [rng.uniform(-10, 63, 40), rng.uniform(-10, 47, 40), rng.uniform(2, 50, 40)], -1
            ),
            [[26.0, 18.0, 36.0], [-40.0, 18.0, 10.0], [52.9, 36.1, 3.3]],
        ]
    ).astype(np.float32)
    expected = _crop_and_resize(image, boxes, output_size)
    # Sample positions agree to about 1e-5 px (rounding), 3e-3 grey levels at most.
    np.testing.assert_allclose(
        patches.crop_patches(image, boxes, output_size).numpy(), expected, atol=5e-3
    )
    # Image size unknown when traced (the shapes come from tf.shape at run time).
    traced = tf.function(
        lambda image, boxes: patches.crop_patches(image, boxes, output_size),
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, 3], tf.float32),
        ],
    )
    np.testing.assert_allclose(traced(image, boxes).numpy(), expected, atol=5e-3)


def test_pattnet_patches_shape_and_dataset_map():
    image = np.random.default_rng(2).integers(0, 256, size=(200, 200, 3)).astype(np.uint8)
    landmarks = _landmarks_with_eyes([66.0, 80.0], [134.0, 80.0])
    eager = patches.pattnet_patches(image, landmarks)
    assert eager.shape == (9, 100, 100, 3) and eager.dtype == tf.float32
    dataset = tf.data.Dataset.from_tensors((image, landmarks))
    mapped = next(iter(dataset.map(patches.pattnet_patches)))
    np.testing.assert_array_equal(eager.numpy(), mapped.numpy())
    batched = patches.pattnet_patch_boxes(np.stack([landmarks, landmarks + 1]))
    assert batched.shape == (2, 9, 3)


def test_errors():
    with pytest.raises(ValueError, match=r"`boxes` must have shape \(num_patches, 3\)"):
        patches.crop_patches(np.zeros((10, 10, 3)), np.zeros((9, 4)))
    with pytest.raises(ValueError, match="Expected one image"):
        patches.crop_patches(np.zeros((2, 10, 10, 3)), np.zeros((9, 3)))
