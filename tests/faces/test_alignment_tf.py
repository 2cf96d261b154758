"""Tests of tfau.faces.alignment_tf: the TF graph twin of the numpy/OpenCV alignment."""

import numpy as np
import pytest
import tensorflow as tf

from tfau import faces


def random_keypoints(rng, count):
    """``count`` faces: an upright template rotated, scaled and moved inside a 240 x 320 frame."""
    template = np.array([(80, 100), (120, 100), (100, 130), (85, 150), (115, 150)], np.float64)
    out = []
    for _ in range(count):
        angle = rng.uniform(-0.6, 0.6)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centred = (template - template.mean(0)) * rng.uniform(0.6, 1.4) + rng.normal(0, 2, (5, 2))
        out.append(centred @ rotation.T + (rng.uniform(100, 220), rng.uniform(90, 150)))
    return np.stack(out)


def test_matrices_equal_the_numpy_ones_for_a_batch():
    keypoints = random_keypoints(np.random.default_rng(1), 6)
    got = faces.similarity_from_keypoints_tf(keypoints, output_size=120, box_enlarge=2.5)
    assert got.shape == (6, 2, 3) and got.dtype == tf.float32
    expected = [faces.similarity_from_keypoints(k, 120, 2.5) for k in keypoints]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_points_and_inverse_match_numpy():
    keypoints = random_keypoints(np.random.default_rng(2), 3)
    matrices = faces.similarity_from_keypoints_tf(keypoints)
    mapped = faces.transform_points_tf(keypoints, matrices).numpy()
    for k, m, got in zip(keypoints, matrices.numpy(), mapped, strict=True):
        np.testing.assert_allclose(got, faces.transform_points(k, m), atol=1e-3)
    back = faces.transform_points_tf(mapped, faces.invert_transform_tf(matrices))
    np.testing.assert_allclose(back.numpy(), keypoints, atol=1e-3)


def test_warp_matches_opencv_within_a_grey_level():
    rng = np.random.default_rng(3)
    # Smooth texture (bilinear differences stay small) plus a hard edge, grey border visible.
    yy, xx = np.mgrid[0:240, 0:320]
    frame = np.stack(
        [127 + 120 * np.sin(xx / 9.0), 127 + 120 * np.cos(yy / 7.0), (xx + yy) % 256], -1
    ).astype(np.uint8)
    frames = np.stack([frame, frame[::-1].copy()])
    keypoints = random_keypoints(rng, 2)
    keypoints[1] += 15.0 - keypoints[1].mean(0)  # near the corner: much of the face is border
    matrices = faces.similarity_from_keypoints_tf(keypoints, output_size=96)
    warped = faces.warp_affine_tf(frames, matrices, output_size=96).numpy()
    assert warped.shape == (2, 96, 96, 3)
    for image, points, got in zip(frames, keypoints, warped, strict=True):
        expected = faces.align_face_from_keypoints(image, points, output_size=96).image
        difference = np.abs(np.round(got) - expected.astype(np.float64))
        # cv2 interpolates in 1/32 pixel steps with fixed-point weights: tiny differences.
        assert difference.mean() < 0.5, difference.mean()
        assert np.quantile(difference, 0.99) <= 3.0
    # The second face reaches outside the frame: that part is grey 128 in both.
    assert (np.round(warped[1]) == 128).all(axis=-1).mean() > 0.05


def test_bad_keypoint_shape_names_what_was_expected():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 5, 2\). Received: shape=\(2, 4, 2\)"):
        faces.similarity_from_keypoints_tf(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match=r"`output_size` must be >= 2\. Received: output_size=1"):
        faces.similarity_from_keypoints_tf(np.zeros((5, 2)), output_size=1)


def test_works_inside_a_traced_function_with_any_batch():
    fn = tf.function(
        lambda k: faces.similarity_from_keypoints_tf(k),
        input_signature=[tf.TensorSpec([None, 5, 2], tf.float32)],
    )
    keypoints = random_keypoints(np.random.default_rng(4), 3).astype(np.float32)
    np.testing.assert_allclose(
        fn(keypoints)[1].numpy(), faces.similarity_from_keypoints(keypoints[1]), atol=1e-3
    )
