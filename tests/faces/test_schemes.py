"""Tests of tfau.faces.schemes: schemes, conversions, flips, eye centres, inter-ocular distance."""

import numpy as np
import pytest
import tensorflow as tf

from tfau import faces

# The 49-point flip permutation as published (1-based), see datasets.md.
PUBLISHED_FLIP_49 = (
    "10 9 8 7 6 5 4 3 2 1 11 12 13 14 19 18 17 16 15 29 28 27 26 31 30 23 22 21 20 25 24 "
    "38 37 36 35 34 33 32 43 42 41 40 39 46 45 44 49 48 47"
)


def random_landmarks(batch, num_points, seed=0, width=200.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, width, size=(batch, num_points, 2)).astype(np.float32)


def test_published_49_point_flip_permutation_matches_the_one_derived_from_ibug_68():
    published = tuple(int(v) - 1 for v in PUBLISHED_FLIP_49.split())
    assert faces.LANDMARKS_49.flip_permutation == published


@pytest.mark.parametrize("scheme", [faces.LANDMARKS_49, faces.LANDMARKS_66, faces.LANDMARKS_68])
def test_flip_permutation_is_an_involution(scheme):
    perm = np.asarray(scheme.flip_permutation)
    assert sorted(perm.tolist()) == list(range(scheme.num_points))
    np.testing.assert_array_equal(perm[perm], np.arange(scheme.num_points))


@pytest.mark.parametrize("scheme", [faces.LANDMARKS_49, faces.LANDMARKS_66, faces.LANDMARKS_68])
def test_flipping_twice_is_identity_numpy_and_tf(scheme):
    x = random_landmarks(3, scheme.num_points)
    np.testing.assert_allclose(
        faces.flip_landmarks(faces.flip_landmarks(x, 200), 200), x, atol=1e-4
    )
    twice = faces.flip_landmarks(faces.flip_landmarks(tf.constant(x), 200), 200)
    assert isinstance(twice, tf.Tensor)
    np.testing.assert_allclose(twice.numpy(), x, rtol=0, atol=1e-4)


def test_flip_swaps_left_and_right_brow_eye_and_mouth_corners_49():
    x = random_landmarks(1, 49)[0]
    flipped = faces.flip_landmarks(x, width=176)
    s = faces.LANDMARKS_49
    pairs = [
        (s.region("left_brow"), s.region("right_brow")[::-1]),  # outer-to-inner vs inner-to-outer
        ((19, 22), (28, 25)),  # outer and inner eye corners
        ((31,), (37,)),  # mouth corners
    ]
    for left, right in pairs:
        for a, b in zip(left, right, strict=True):
            np.testing.assert_allclose(flipped[a], [175.0 - x[b, 0], x[b, 1]])
            np.testing.assert_allclose(flipped[b], [175.0 - x[a, 0], x[a, 1]])
    # Midline points stay (nose bridge 10-13, top and bottom lip centres 34, 40).
    for i in (10, 11, 12, 13, 34, 40, 44, 47):
        np.testing.assert_allclose(flipped[i], [175.0 - x[i, 0], x[i, 1]])


def test_flip_of_a_symmetric_face_is_the_same_face():
    # Build a face symmetric about x = (width - 1) / 2 from the 68-point mirror pairs.
    width = 101.0
    x = random_landmarks(1, 68, seed=3)[0]
    perm = np.asarray(faces.LANDMARKS_68.flip_permutation)
    symmetric = x.copy()
    for i, j in enumerate(perm):
        if i < j:
            symmetric[j] = [width - 1 - x[i, 0], x[i, 1]]
        elif i == j:
            symmetric[i, 0] = (width - 1) / 2
    np.testing.assert_allclose(faces.flip_landmarks(symmetric, width), symmetric, atol=1e-4)
    for target in (66, 49):
        small = faces.convert_landmarks(symmetric, target)
        np.testing.assert_allclose(faces.flip_landmarks(small, width), small, atol=1e-4)


def test_flip_inside_tf_function_and_dataset_map_with_tensor_width():
    x = random_landmarks(2, 49)
    image = tf.zeros((5, 120, 3))

    def flip(image, landmarks):
        return faces.flip_landmarks(landmarks, tf.shape(image)[1])

    expected = faces.flip_landmarks(x, 120)
    graph = tf.function(flip, jit_compile=True)(image, tf.constant(x))
    np.testing.assert_allclose(graph.numpy(), expected, atol=1e-4)
    ds = tf.data.Dataset.from_tensors((image, x)).map(flip)
    np.testing.assert_allclose(next(iter(ds)).numpy(), expected, atol=1e-4)


def test_conversions_select_the_documented_points():
    x68 = np.stack([np.arange(68), np.arange(68) * 10], axis=-1).astype(np.float32)
    x66 = faces.convert_landmarks(x68, 66)
    assert x66.shape == (66, 2)
    assert 60 not in x66[:, 0] and 64 not in x66[:, 0]
    np.testing.assert_array_equal(x66[60:, 0], [61, 62, 63, 65, 66, 67])
    x49 = faces.convert_landmarks(x66, 49)
    np.testing.assert_array_equal(x49, x66[17:])
    np.testing.assert_array_equal(faces.convert_landmarks(x68, 49), x49)
    # Same in TF, batched, integer input becomes float32.
    t49 = faces.convert_landmarks(tf.constant(np.stack([x68, x68]).astype(np.int32)), 49)
    assert t49.dtype == tf.float32
    np.testing.assert_array_equal(t49.numpy()[1], x49)


def test_49_point_regions_match_datasets_md():
    s = faces.LANDMARKS_49
    assert s.region("left_brow") == (0, 1, 2, 3, 4)
    assert s.region("right_brow") == (5, 6, 7, 8, 9)
    assert s.region("nose_bridge") == (10, 11, 12, 13)
    assert s.region("nose_base") == (14, 15, 16, 17, 18)
    assert s.region("left_eye") == (19, 20, 21, 22, 23, 24)
    assert s.region("right_eye") == (25, 26, 27, 28, 29, 30)
    assert s.region("outer_lip") == tuple(range(31, 43))
    assert s.region("inner_upper_lip") == (43, 44, 45)
    assert s.region("inner_lower_lip") == (46, 47, 48)
    assert s.point("nose_tip") == 13
    assert (s.point("left_mouth_corner"), s.point("right_mouth_corner")) == (31, 37)
    assert (s.point("left_eye_inner_corner"), s.point("right_eye_inner_corner")) == (22, 25)
    assert faces.LANDMARKS_66.region("inner_lip") == (60, 61, 62, 63, 64, 65)
    assert faces.LANDMARKS_66.point("nose_tip") == 30


def test_eye_centres_and_inter_ocular_distance():
    x = random_landmarks(4, 49)
    left, right = faces.eye_centres(x)
    np.testing.assert_allclose(left, x[:, 19:25].mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(right, x[:, 25:31].mean(axis=1), rtol=1e-6)
    expected = np.linalg.norm(x[:, 25:31].mean(1) - x[:, 19:25].mean(1), axis=-1)
    np.testing.assert_allclose(faces.inter_ocular_distance(x), expected, rtol=1e-5)
    np.testing.assert_allclose(
        faces.inter_ocular_distance(tf.constant(x)).numpy(), expected, rtol=1e-5
    )
    # A 3-4-5 triangle by hand: eyes at (10, 20) and (13, 24).
    eyes = np.zeros((49, 2), np.float32)
    eyes[19:25] = [10, 20]
    eyes[25:31] = [13, 24]
    assert faces.inter_ocular_distance(eyes) == pytest.approx(5.0)
    # The same face in 68 points gives the same distance.
    x68 = np.zeros((68, 2), np.float32)
    x68[36:42] = [10, 20]
    x68[42:48] = [13, 24]
    assert faces.inter_ocular_distance(x68) == pytest.approx(5.0)


def test_errors_name_what_was_expected():
    with pytest.raises(
        ValueError, match=r"shape \(\.\.\., num_points, 2\).*Received: shape=\(49, 3\)"
    ):
        faces.flip_landmarks(np.zeros((49, 3)), 10)
    with pytest.raises(ValueError, match=r"Expected 49, 66 or 68 points\. Received: 50"):
        faces.inter_ocular_distance(np.zeros((50, 2)))
    with pytest.raises(ValueError, match="only 68 -> 66, 66 -> 49 and 68 -> 49"):
        faces.convert_landmarks(np.zeros((49, 2)), 68)
    with pytest.raises(ValueError, match="Landmarks have 68 points but the 49-point scheme"):
        faces.flip_landmarks(np.zeros((68, 2)), 10, scheme=faces.LANDMARKS_49)
    with pytest.raises(KeyError, match=r"no region 'jaw'\. Expected one of: left_brow"):
        faces.LANDMARKS_49.region("jaw")
