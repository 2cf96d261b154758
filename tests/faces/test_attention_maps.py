"""Tests of tfau.faces.attention: EAC-Net and JAA-Net landmark attention maps in the TF graph."""

import numpy as np
import pytest
import tensorflow as tf

from tfau import faces
from tfau.aus import BP4D_AUS


def collapsed_face(point=(50.0, 50.0), batch=1):
    """All 49 landmarks on one point: the ruler is 0 and every centre sits on that point."""
    return np.tile(np.asarray(point, np.float32), (batch, 49, 1))


# ---------------------------------------------------------------- EAC-Net, values by hand


def test_eacnet_single_centre_values_by_hand():
    # Image 100 -> map 100: no scaling. All 20 centres on pixel (x=50, y=50).
    m = faces.eacnet_attention_map(collapsed_face(), image_size=100).numpy()
    assert m.shape == (1, 100, 100, 1)
    m = m[0, ..., 0]
    assert m[50, 50] == pytest.approx(1.0)
    assert m[52, 51] == pytest.approx(1 - 0.285)  # Manhattan distance 3
    assert m[50, 45] == pytest.approx(1 - 0.475)  # distance 5, window edge
    assert m[55, 55] == pytest.approx(0.05)  # corner of the 11 x 11 window, distance 10
    assert m[50, 56] == 0.0 and m[44, 50] == 0.0  # outside the window
    assert np.count_nonzero(m) == 121


def test_eacnet_two_centres_take_the_maximum():
    face = collapsed_face()
    face[0, 31] = (20, 80)  # left mouth corner
    face[0, 37] = (26, 80)  # right mouth corner
    m = faces.eacnet_attention_map(face, image_size=100)[0, ..., 0].numpy()
    assert m[80, 20] == pytest.approx(1.0) and m[80, 26] == pytest.approx(1.0)
    assert m[80, 23] == pytest.approx(1 - 3 * 0.095)  # distance 3 from both
    assert m[80, 22] == pytest.approx(1 - 2 * 0.095)  # 2 from left, 4 from right: max
    assert m[81, 24] == pytest.approx(1 - 3 * 0.095)  # 4 + 1 from left, 2 + 1 from right
    assert m[80, 15] == pytest.approx(1 - 5 * 0.095)
    assert m[80, 14] == 0.0 and m[80, 32] == 0.0
    assert m[50, 50] == pytest.approx(1.0)  # the 16 other centres are still there
    # Per-AU maps: AU12 only sees the mouth corners, AU1 only the collapsed point.
    per_au = faces.eacnet_attention_map(face, image_size=100, aus=(12, 1)).numpy()[0]
    assert per_au.shape == (100, 100, 2)
    assert per_au[50, 50, 0] == 0.0 and per_au[80, 20, 0] == pytest.approx(1.0)
    assert per_au[50, 50, 1] == pytest.approx(1.0) and per_au[80, 20, 1] == 0.0
    np.testing.assert_allclose(per_au.max(axis=-1), np.maximum(per_au[..., 0], per_au[..., 1]))


def test_eacnet_single_map_is_the_max_of_the_per_au_maps():
    face = np.random.default_rng(4).uniform(30, 190, (2, 49, 2)).astype(np.float32)
    single = faces.eacnet_attention_map(face, image_size=224).numpy()
    per_au = faces.eacnet_attention_map(face, image_size=224, aus=faces.EACNET_AUS).numpy()
    np.testing.assert_allclose(single[..., 0], per_au.max(axis=-1))


def test_scaling_from_image_to_map_pixels():
    # A 200 x 400 (height x width) image onto 100 x 100: x lands on floor((x + 0.5) * 100 / 400)
    # and y on floor((y + 0.5) * 100 / 200) (half-pixel centres). The authors' rounding of
    # x * M / W would give round(53.5) = 54 and round(5.5) = 6 here.
    m = faces.eacnet_attention_map(collapsed_face((214.0, 11.0)), image_size=(200, 400))
    y, x = np.unravel_index(np.argmax(m[0, ..., 0].numpy()), (100, 100))
    assert (x, y) == (53, 5)  # floor(53.625) and floor(5.75)


# ---------------------------------------------------------------- JAA-Net, values by hand


def jaanet_face():
    """Inner eye corners 12 apart (ruler 12); brow inner ends 4, 5 at y = 26."""
    face = collapsed_face((26.0, 40.0))
    face[0, 22] = (20, 30)
    face[0, 25] = (32, 30)
    face[0, 4] = (15, 26)
    face[0, 5] = (37, 26)
    return face


def test_jaanet_half_size_and_map_size_from_the_paper():
    assert faces.jaanet_map_size(176) == 52
    assert faces.jaanet_half_size(52) == 4  # round(25.5 * 0.14) = round(3.57)
    assert faces.jaanet_half_size(52, zeta=0.3) == 8  # round(7.65)


def test_jaanet_au1_values_by_hand():
    # Image 52 = map 52: no scaling. AU1 centres: brow inner ends moved up ruler / 2 = 6.
    m = faces.jaanet_attention_maps(jaanet_face(), aus=(1,), image_size=52, map_size=52)
    m = m.numpy()[0, ..., 0]
    step = 0.56 / (52 * 0.14)  # 1 / 13
    assert step == pytest.approx(1 / 13)
    assert m[20, 15] == pytest.approx(1.0) and m[20, 37] == pytest.approx(1.0)
    assert m[20, 17] == pytest.approx(1 - 2 * step)
    assert m[22, 18] == pytest.approx(1 - 5 * step)
    assert m[24, 19] == pytest.approx(1 - 8 * step)  # window corner (half-size 4)
    assert m[16, 33] == pytest.approx(1 - 8 * step)
    assert m[20, 20] == 0.0 and m[25, 15] == 0.0 and m[26, 15] == 0.0
    assert np.count_nonzero(m) == 2 * 81


def test_jaanet_overlapping_windows_take_the_maximum():
    face = jaanet_face()
    face[0, 5] = (21, 26)  # right AU1 centre at (21, 20), 6 pixels from the left one
    m = faces.jaanet_attention_maps(face, aus=(1,), image_size=52, map_size=52).numpy()[0, ..., 0]
    assert m[20, 18] == pytest.approx(1 - 3 / 13)  # 3 from both
    assert m[20, 17] == pytest.approx(1 - 2 / 13)  # 2 from left, 4 from right
    assert m[21, 19] == pytest.approx(1 - 3 / 13)  # 4 + 1 and 2 + 1
    assert np.count_nonzero(m) == 9 * 15  # union of the two 9 x 9 windows


def test_jaanet_uniform_variant_is_one_inside_the_windows():
    kwargs = dict(aus=(1, 12), image_size=52, map_size=52)
    gaussian = faces.jaanet_attention_maps(jaanet_face(), **kwargs).numpy()
    uniform = faces.jaanet_attention_maps(jaanet_face(), uniform=True, **kwargs).numpy()
    np.testing.assert_array_equal(uniform, (gaussian > 0).astype(np.float32))
    np.testing.assert_array_equal(
        uniform, faces.jaanet_attention_maps(jaanet_face(), xi=0.0, **kwargs).numpy()
    )


# ---------------------------------------------------------------- plain numpy references


def reference_window_maps(centres, image_hw, map_size, half, slope):
    """Loop reference: (B, C, 2) image-pixel centres -> (B, C, map, map)."""
    height, width = image_hw
    out = np.zeros((*centres.shape[:2], map_size, map_size), np.float32)
    for b in range(centres.shape[0]):
        for c in range(centres.shape[1]):
            cx = np.floor((centres[b, c, 0] + 0.5) * map_size / width)
            cy = np.floor((centres[b, c, 1] + 0.5) * map_size / height)
            for row in range(map_size):
                for col in range(map_size):
                    if abs(row - cy) <= half and abs(col - cx) <= half:
                        d = abs(row - cy) + abs(col - cx)
                        out[b, c, row, col] = max(1 - slope * d, 0.0)
    return out


def test_jaanet_maps_match_a_numpy_loop_on_random_landmarks():
    face = np.random.default_rng(5).uniform(-5, 180, (2, 49, 2)).astype(np.float32)
    aus = BP4D_AUS
    got = faces.jaanet_attention_maps(face, aus, image_size=176).numpy()
    assert got.shape == (2, 52, 52, 12)
    windows = reference_window_maps(
        faces.jaanet_au_centres(face, aus), (176, 176), 52, 4, 0.56 / (52 * 0.14)
    )
    expected = windows.reshape(2, 12, 2, 52, 52).max(axis=2).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_eacnet_map_matches_a_numpy_loop_on_random_landmarks():
    face = np.random.default_rng(6).uniform(0, 224, (2, 49, 2)).astype(np.float32)
    got = faces.eacnet_attention_map(face, image_size=224).numpy()
    windows = reference_window_maps(faces.eacnet_roi_centres(face), (224, 224), 100, 5, 0.095)
    np.testing.assert_allclose(got[..., 0], windows.max(axis=1), atol=1e-6)


# ---------------------------------------------------------------- graph, XLA, errors


def test_maps_under_xla_and_in_dataset_map_match_eager():
    face = np.random.default_rng(7).uniform(0, 176, (3, 49, 2)).astype(np.float32)

    def maps(landmarks):
        return (
            faces.jaanet_attention_maps(landmarks, (1, 2, 4), image_size=176),
            faces.eacnet_attention_map(landmarks, image_size=176),
        )

    eager = maps(face)
    # One face at a time (per-example tf.data map) gives the same maps without a batch axis.
    per_face = next(iter(tf.data.Dataset.from_tensor_slices(face).map(maps)))
    for a, b in zip(eager, per_face, strict=True):
        assert b.shape == a.shape[1:]
        np.testing.assert_allclose(b.numpy(), a.numpy()[0], atol=1e-6)
    xla = tf.function(maps, jit_compile=True)(tf.constant(face))
    from_ds = next(iter(tf.data.Dataset.from_tensors(face).map(maps)))
    for a, b, c in zip(eager, xla, from_ds, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6)
        np.testing.assert_allclose(c.numpy(), a.numpy(), atol=1e-6)


def test_maps_have_no_gradient_to_the_landmarks():
    face = tf.Variable(np.random.default_rng(8).uniform(0, 176, (1, 49, 2)).astype(np.float32))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(faces.jaanet_attention_maps(face, (1,), image_size=176))
    assert tape.gradient(total, face) is None


def test_map_errors():
    with pytest.raises(ValueError, match=r"shape \(batch, num_points, 2\) or \(num_points, 2\)"):
        faces.eacnet_attention_map(np.zeros((2, 1, 49, 2)), image_size=100)
    with pytest.raises(ValueError, match=r"`image_size` must be a positive integer or a \(height"):
        faces.eacnet_attention_map(np.zeros((1, 49, 2)), image_size=(1, 2, 3))
    with pytest.raises(
        ValueError, match=r"`map_size` must be a positive integer\. Received: map_size=0"
    ):
        faces.jaanet_attention_maps(np.zeros((1, 49, 2)), (1,), map_size=0)
    with pytest.raises(ValueError, match=r"`zeta` must be > 0\. Received: zeta=0"):
        faces.jaanet_attention_maps(np.zeros((1, 49, 2)), (1,), zeta=0)
    with pytest.raises(ValueError, match=r"weight decay must be >= 0\. Received: -0\.1"):
        faces.eacnet_attention_map(np.zeros((1, 49, 2)), image_size=100, slope=-0.1)


def authors_window_maps(centres, image_size, map_size, half, slope):
    """JAA-Net's released generate_map as a loop: centre round(x * M / W) (Python's round,
    half to even), window ends clamped into [0, M - 1], maximum with what is there."""
    out = np.zeros((*centres.shape[:2], map_size, map_size), np.float32)
    scale = map_size / image_size
    for b in range(centres.shape[0]):
        for c in range(centres.shape[1]):
            cx, cy = round(float(centres[b, c, 0]) * scale), round(float(centres[b, c, 1]) * scale)
            rows = range(
                min(max(cy - half, 0), map_size - 1), min(max(cy + half, 0), map_size - 1) + 1
            )
            cols = range(
                min(max(cx - half, 0), map_size - 1), min(max(cx + half, 0), map_size - 1) + 1
            )
            for row in rows:
                for col in cols:
                    d = abs(row - cy) + abs(col - cx)
                    out[b, c, row, col] = max(1 - slope * d, out[b, c, row, col])
    return out


def test_jaanet_authors_rounding_matches_their_rule_on_random_landmarks():
    # Points from well outside to well inside the face, so that clamped windows occur.
    face = np.random.default_rng(6).uniform(-40, 215, (3, 49, 2)).astype(np.float32)
    aus = (1, 2, 4, 6, 7, 9, 10, 12, 17, 23, 25, 26)
    got = faces.jaanet_attention_maps(face, aus, image_size=176, centre_rounding="round")
    centres = faces.jaanet_au_centres(face, aus)
    windows = authors_window_maps(centres, 176, 52, 4, 0.56 / (52 * 0.14))
    expected = windows.reshape(3, len(aus), 2, 52, 52).max(axis=2).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    assert not np.allclose(faces.jaanet_attention_maps(face, aus, image_size=176), expected)


def test_jaanet_authors_rounding_half_to_even_and_clamping():
    # 104 -> 52 halves every coordinate: x = 5 -> 2.5 -> 2, x = 7 -> 3.5 -> 4 (half to even).
    centres = np.array([[[5.0, 7.0], [-30.0, 50.0]]], np.float32)
    maps = faces.attention._per_centre_maps(centres, 104, 52, 1, 0.0, "round").numpy()[0]
    assert np.argwhere(maps[0] == 1).min(axis=0).tolist() == [3, 1]  # rows 3-5, columns 1-3
    assert np.argwhere(maps[0] == 1).max(axis=0).tolist() == [5, 3]
    # x = -30 -> column -15: its clamped window still paints column 0 (rows 24-26).
    assert np.argwhere(maps[1] > 0).tolist() == [[24, 0], [25, 0], [26, 0]]
    half_pixel = faces.attention._per_centre_maps(centres, 104, 52, 1, 0.0, "half_pixel")
    assert not half_pixel.numpy()[0, 1].any()
    with pytest.raises(ValueError, match="`centre_rounding` must be one of"):
        faces.jaanet_attention_maps(centres[0], (1,), image_size=104, centre_rounding="floor")
